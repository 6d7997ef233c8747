"""`aaprof node`: check a node's AppArmor prerequisites and load profiles onto it."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from aaprof.cli.profile import max_file_size_option

if TYPE_CHECKING:
    from aaprof.node.host import Host
    from aaprof.node.load import LoadOptions

DEFAULT_STATE = "/var/lib/aaprof/node"


@click.group()
def node() -> None:
    """The node side: prerequisites and the profile loader (docs/node.md)."""


root_option = click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default="/",
    show_default=True,
    help="Read every host path (/proc, /sys, securityfs, runtimes) below this directory.",
)

# the loader's state directory and each pass's output: `node load` and `node unload` share them
state_option = click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help=f"State and status directory [default: {DEFAULT_STATE} below --root].",
)
pass_format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Each pass's result for people, or one JSON object a line for programs.",
)


@node.command()
@click.option(
    "--pod",
    "pods",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
    help="A pod or workload manifest (YAML, several documents); repeatable; - for stdin.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Findings and loaded profiles for people, or one JSON document for programs.",
)
@click.option(
    "--cri-socket",
    type=click.Path(path_type=Path),
    help="The runtime's CRI socket to ask for its report [default: the first of "
    "/run/containerd/containerd.sock, /run/crio/crio.sock below --root that exists].",
)
@click.option("--no-cri", is_flag=True, help="Do not ask the runtime for its report.")
@click.option(
    "--cri-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds to wait for each of the runtime's answers.",
)
@root_option
def check(
    pods: tuple[Path, ...],
    fmt: str,
    cri_socket: Path | None,
    no_cri: bool,
    cri_timeout: float,
    root: Path,
) -> None:
    """Check AppArmor on this node, what the runtime reports of it over the CRI, and that the
    profiles pods name are loaded.

    Exit 0: nothing wrong; 1: a problem (AppArmor off, no securityfs, the runtime not applying
    profiles, a profile not loaded).
    """
    from aaprof.model.printable import printable
    from aaprof.node.check import PROBLEM, CriQuery, check_node
    from aaprof.node.host import Host

    if no_cri and cri_socket is not None:
        raise click.UsageError("--no-cri and --cri-socket exclude each other")
    cri = None if no_cri else CriQuery((cri_socket,) if cri_socket else None, cri_timeout)
    report = check_node(Host(root), pods, cri)
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        for f in report.findings:
            click.echo(f"{f.level:<8} {printable(f.check)}: {printable(f.detail)}")
        if report.profiles:
            click.echo("loaded profiles:")
            for name, mode in report.profiles:
                click.echo(f"  {printable(name)} ({mode})")
        bad = sum(f.level == PROBLEM for f in report.findings)
        click.echo("ok" if report.ok else f"{bad} problem(s)")
    if not report.ok:
        raise SystemExit(1)


@node.command()
@click.argument("dirs", nargs=-1, required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--watch", is_flag=True, help="Keep running: load again whenever DIR changes.")
@click.option("--prune", is_flag=True, help="Unload owned profiles whose file is gone (if unused).")
@state_option
@click.option(
    "--mode",
    type=click.Choice(["enforce", "complain", "as-written"]),
    default="enforce",
    show_default=True,
    help="The mode to load in and verify (as-written: the profiles' own flags).",
)
@click.option(
    "--base",
    type=click.Path(file_okay=False, path_type=Path),
    default="/etc/apparmor.d",
    show_default=True,
    help="Where `include <...>` resolves (the node's abstractions and tunables).",
)
@click.option(
    "--resync",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="With --watch: seconds between passes when nothing changes.",
)
@click.option("--poll", is_flag=True, help="With --watch: poll instead of using inotify.")
@pass_format_option
@max_file_size_option
@root_option
def load(
    dirs: tuple[Path, ...],
    watch: bool,
    prune: bool,
    state_dir: Path | None,
    mode: str,
    base: Path,
    resync: float,
    poll: bool,
    fmt: str,
    max_file_size: int,
    root: Path,
) -> None:
    """Load the profiles in DIR(s), verify them, and own only what was loaded.

    A profile of the same name loaded by someone else is refused. Exit 0: all loaded; 1: a
    profile failed, was refused or is not loaded as asked; 2: usage.
    """
    from aaprof.node.host import Host
    from aaprof.node.load import LoadOptions

    host = Host(root)
    state = state_dir or host.path(DEFAULT_STATE)
    options = LoadOptions(dirs, state, base, mode=mode, prune=prune, max_bytes=max_file_size)
    _run(host, options, watch=watch, resync=resync, poll=poll, fmt=fmt)


@node.command()
@click.option(
    "--watch",
    is_flag=True,
    help="Keep running: retry what is still in use, then stay (the loader DaemonSet's uninstall).",
)
@state_option
@click.option(
    "--resync",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="With --watch: seconds between passes.",
)
@pass_format_option
@root_option
def unload(watch: bool, state_dir: Path | None, resync: float, fmt: str, root: Path) -> None:
    """Unload every profile `aaprof node load` loaded on this node, and nothing else.

    The uninstall: the profiles the loader's state names are unloaded, each once no process is
    confined by it (one still in use is kept and named). Exit 0: all unloaded; 1: some kept or
    failed, or the pass could not run; 2: usage.
    """
    from aaprof.node.host import Host
    from aaprof.node.load import LoadOptions

    host = Host(root)
    state = state_dir or host.path(DEFAULT_STATE)
    _run(host, LoadOptions((), state, unload=True), watch=watch, resync=resync, poll=True, fmt=fmt)


def _run(
    host: Host, options: LoadOptions, *, watch: bool, resync: float, poll: bool, fmt: str
) -> None:
    """One pass (exit 1 unless it is ok) or, with `watch`, passes until SIGTERM or SIGINT."""
    from aaprof.model.printable import printable
    from aaprof.node.daemon import one_pass
    from aaprof.node.daemon import watch as run_watch
    from aaprof.node.load import SyncResult

    def report(result: SyncResult | None, error: str) -> None:
        if fmt == "json":
            doc = result.to_dict() if result else {"ok": False, "error": error}
            click.echo(json.dumps(doc, ensure_ascii=False))
            return
        if result is None:
            click.echo(f"aaprof: {printable(error)}", err=True)
            return
        for o in result.outcomes:  # names and messages escaped: a file name cannot forge a line
            if o.action != "unchanged" or not watch:
                name, file = printable(o.name or "-"), printable(o.file)
                message = f": {printable(o.message)}" if o.message else ""
                click.echo(f"{o.action:<10} {name} ({file}){message}")
        problems = sum(o.problem for o in result.outcomes)
        in_use = sum(o.action == "kept" for o in result.outcomes) if result.unloading else 0
        parts = [f"{problems} problem(s)"] * bool(problems)
        parts += [f"{in_use} still loaded: in use, retry when no process uses them"] * bool(in_use)
        click.echo("; ".join(parts) or "ok")

    if not watch:
        result, error = one_pass(host, options)
        report(result, error)
        if result is None or not result.ok:
            raise SystemExit(1)
        return
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    run_watch(host, options, stop=stop, report=report, resync_s=resync, poll=poll)
