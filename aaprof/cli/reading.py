"""The options every command that reads logs shares: which records, which node, which container.

`@reading_options` adds them to a command and hands the command one `Reading` (keyword
`reading`), so `events`, `generate` and later commands select and attribute records alike.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from aaprof.containers.attribute import Attributor, load_pods
from aaprof.errors import AaprofError
from aaprof.logs.reader import Reader
from aaprof.logs.select import Selection
from aaprof.model.event import Event


@dataclass(frozen=True, slots=True)
class Reading:
    """The shared options' values, as given on the command line."""

    profile: str | None = None
    operations: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    pids: tuple[int, ...] = ()
    comm: str | None = None
    name: str | None = None
    node: str | None = None
    node_from_dir: bool | None = None  # None: when several nodes' logs are read (Reader)
    proc_root: Path | None = None
    pods: Path | None = None
    log_root: Path | None = None

    def selection(self, mode: str = "all") -> Selection:
        """The Selection these options stand for (a bad value is a usage error)."""
        try:
            return Selection.build(
                mode=mode,
                profile=self.profile,
                operations=self.operations,
                classes=self.classes,
                since=self.since,
                until=self.until,
                pids=self.pids,
                comm=self.comm,
                name=self.name,
            )
        except AaprofError as exc:  # a value on the command line: a usage error
            raise click.UsageError(str(exc)) from None

    def reader(self, boot: str | None = None) -> Reader:
        return Reader(node=self.node, node_from_dir=self.node_from_dir, boot=boot)

    def attributor(self) -> Callable[[Event], Event]:
        """Sets `container` from the profile name, `--proc-root`, `--pods` and `--log-root`.

        Raises:
            AaprofError: a proc root that is not a directory, an unreadable pods file.
        """
        pods = load_pods(self.pods) if self.pods is not None else ()
        return Attributor.default(self.proc_root, pods, self.log_root)


_OPTIONS = (
    click.option("--profile", metavar="GLOB", help="Keep records of matching profiles."),
    click.option(
        "--operation", "operations", multiple=True, metavar="OP", help="Keep this operation."
    ),
    click.option(
        "--class", "classes", multiple=True, metavar="CLASS", help="Keep this class (file, cap…)."
    ),
    click.option("--since", metavar="TIME", help="Keep records at or after TIME (ISO, epoch, 2h)."),
    click.option("--until", metavar="TIME", help="Keep records at or before TIME."),
    click.option("--pid", "pids", multiple=True, type=int, help="Keep records of this pid."),
    click.option("--comm", metavar="GLOB", help="Keep records whose command matches."),
    click.option("--name", metavar="GLOB", help="Keep records whose object name matches."),
    click.option("--node", metavar="NAME", help="Node of records whose line names none."),
    click.option(
        "--node-from-dir/--no-node-from-dir",
        default=None,
        help="Node of records whose line names none: the file's directory name (default: when"
        " the files lie in sibling directories, one per node, and no --node is given).",
    ),
    click.option(
        "--proc-root",
        type=click.Path(file_okay=False, path_type=Path),
        help="Attribute pids to containers through DIR/<pid>/cgroup (events -f: /proc).",
    ),
    click.option(
        "--pods",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Pod and container names from FILE (`kubectl get pods -A -o json`).",
    ),
    click.option(
        "--log-root",
        type=click.Path(file_okay=False, path_type=Path),
        help="Pod and container names from the kubelet's log links under DIR (a node's /var/log).",
    ),
)
_KEYS = tuple(Reading.__dataclass_fields__)
# generate's and review's: what they learn from beside complain mode's ALLOWED records
include_denied_option = click.option(
    "--include-denied",
    is_flag=True,
    help="Also learn from DENIED records (and KILLED ones, a kill-mode profile's denials).",
)


def reading_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the shared options to a click command; it receives them as `reading: Reading`."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["reading"] = Reading(**{key: kwargs.pop(key) for key in _KEYS})
        return command(*args, **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper
