"""`aaprof review`: decide a workload's profile in a terminal UI (aaprof/tui) and save the
decisions that `aaprof generate --decisions` replays anywhere."""

from __future__ import annotations

import dataclasses
import gc
import os
import sys
from pathlib import Path

import click

from aaprof.cli.reading import Reading, include_denied_option, reading_options
from aaprof.errors import AaprofError


@click.command()
@click.argument("logs", nargs=-1, required=True, metavar="LOG...")
@click.option(
    "--profiles",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory as for `generate --out`: DIR/profiles/ is read and written (merged).",
)
@click.option(
    "--decisions",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML decisions file: replayed when it exists, written (every choice) on save;"
    " default: DIR/decisions.yaml (which `aaprof generate --out DIR` replays).",
)
@click.option(
    "--mode",
    type=click.Choice(["complain", "enforce"]),
    default="complain",
    show_default=True,
    help="The mode the written profiles declare.",
)
@click.option("--per-container", is_flag=True, help="One profile per attributed container.")
@include_denied_option
@click.option("--include-noise", is_flag=True, help="Keep container-runtime start-up noise.")
@click.option(
    "--base",
    type=click.Path(file_okay=False, path_type=Path),
    default="/etc/apparmor.d",
    show_default=True,
    help="Where includes resolve (for what is already allowed, and for compiling).",
)
@click.option(
    "--follow",
    is_flag=True,
    help="Read the logs again when they grow (logs or `aaprof watch` JSONL): new records appear.",
)
@reading_options
def review(
    logs: tuple[str, ...],
    out: Path,
    decisions: Path | None,
    mode: str,
    per_container: bool,
    include_denied: bool,
    include_noise: bool,
    base: Path,
    follow: bool,
    reading: Reading,
) -> None:
    """Review what LOG... recorded, profile by profile, and decide each rule with keys.

    A tree (namespace → workload → container → profile) on the left, the rules of the
    selected node most severe first in the centre, the evidence and the alternatives on the
    right, the profile being built (p) below. a allow, d deny, i ignore, g glob, u undo,
    F save and quit, ? every key. Saving compiles each profile with apparmor_parser first,
    then writes DIR/profiles/ (merged, as `aaprof generate` does) and the decisions file,
    which `aaprof generate --decisions FILE` replays on new logs without a terminal.

    \b
    Examples:
      aaprof review sample-logs/ --profiles ./apparmor --decisions ./apparmor/decisions.yaml
      aaprof review /var/log/audit/audit.log --profiles ./apparmor --follow
    """
    from aaprof.engine import Session, Settings, decisions_file, learnt_modes, load_decisions
    from aaprof.engine import review as engine_review
    from aaprof.logs.sources import expand

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise AaprofError(
            "aaprof review needs a terminal; without one, `aaprof generate --decisions FILE` "
            "replays a review"
        )
    selection = reading.selection()
    selection = dataclasses.replace(selection, modes=learnt_modes(include_denied))
    settings = Settings(mode, per_container, include_noise, base)
    given = decisions
    decisions = decisions_file(out, given)  # (every decision is kept, by default in DIR)
    replay = load_decisions(decisions) if decisions.exists() else ()
    if "-" in logs and follow:
        raise click.UsageError("--follow reads files, not standard input")

    def read(directory: Path) -> Session:
        return Session.read(
            expand(list(logs)),
            directory,
            settings=settings,
            selection=selection,
            attribute=reading.attributor(),
            reader=reading.reader(),
            decisions=replay,
            sources=logs,  # the header names the logs as given, as generate's does
        )

    session, skipped = engine_review.open_session(read, out)
    reload = None
    if follow:
        last = [_signature(logs)]

        def reload_() -> Session | None:
            now = _signature(logs)
            if now == last[0]:
                return None
            last[0] = now
            return engine_review.open_session(read, out)[0]

        reload = reload_

    # What was read lives as long as the review: the collector need not walk it (again and
    # again while the interface is imported and built; the app freezes what it adds).
    gc.freeze()
    from aaprof.tui.app import ReviewApp

    saved = ReviewApp(session, decisions_file=decisions, skipped=skipped, reload=reload).run()
    for path, message in skipped:
        click.echo(f"aaprof: warning: {engine_review.left_out(path, message)}", err=True)
    if saved is None:
        click.echo("nothing saved", err=True)
        return
    lines = []
    for name, path, n in saved.profiles:
        lines.append(f"  {path}  ({name}: {n} new rule{'s' if n != 1 else ''})")
    if saved.decisions_file is not None:
        if given is None:  # (said, so that nobody wonders where the choices went)
            found = "every decision: review and generate --out DIR find them here"
        else:
            found = "replay with aaprof generate --decisions"
        lines.append(f"  {saved.decisions_file}  ({found})")
    click.echo("saved\n" + "\n".join(lines))


def _signature(logs: tuple[str, ...]) -> tuple[tuple[str, int, int], ...]:
    """Size and change time of every file under LOG...: what --follow watches."""
    out = []
    for spec in logs:
        top = Path(spec)
        paths = sorted(p for p in top.rglob("*") if p.is_file()) if top.is_dir() else [top]
        for path in paths:
            try:
                st = os.stat(path)
            except OSError:
                continue
            out.append((str(path), st.st_size, st.st_mtime_ns))
    return tuple(out)
