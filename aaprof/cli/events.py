"""`aaprof events`: read AppArmor records from logs; filter, print or summarise them."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import click

from aaprof.cli.output import (
    JSON_FORMATS,
    render_events,
    render_json,
    render_stats,
    render_summary,
)
from aaprof.cli.progress import Progress
from aaprof.cli.reading import Reading, reading_options
from aaprof.logs import entry
from aaprof.logs.halves import lines_before, split_point, write_in_halves
from aaprof.logs.journal import SYSTEM_JOURNAL
from aaprof.logs.jsonlines import TEMPLATES_KEPT, JsonLines
from aaprof.logs.reader import Reader, ReadStats
from aaprof.logs.select import MODE_CHOICES, Selection
from aaprof.logs.sources import Input, expand
from aaprof.model.event import Event

FORMATS = ("table", "json", "jsonl", "csv")
# Show a progress bar when reading more than this many bytes and stderr is a terminal.


@click.command()
@click.argument("inputs", nargs=-1, metavar="[LOG]...")
@click.option(
    "--mode",
    type=click.Choice(MODE_CHOICES, case_sensitive=False),
    default="all",
    show_default=True,
    help="Keep records of this mode (the kernel's apparmor= value).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format; json and jsonl are the stable interface (docs/events.md).",
)
@click.option("--summary", is_flag=True, help="Counts per profile × class × mode, top names.")
@click.option("--top", default=5, show_default=True, help="Names shown per summary row.")
@click.option("--journal", is_flag=True, help="Also read the system journal.")
@click.option("--boot", metavar="ID", help="Journal: only this boot (0 = current).")
@click.option("-f", "--follow", is_flag=True, help="Keep reading new records.")
@reading_options
@click.option("-q", "--quiet", is_flag=True, help="No statistics line at the end.")
def events(
    inputs: tuple[str, ...],
    mode: str,
    fmt: str,
    summary: bool,
    top: int,
    journal: bool,
    boot: str | None,
    follow: bool,
    quiet: bool,
    reading: Reading,
) -> None:
    """Read AppArmor records (DENIED, ALLOWED, AUDIT, STATUS, …) from logs.

    LOG is a file (plain, .gz, .bz2, .xz), a directory, a glob, a journal file or directory,
    or - for standard input. Rotated sets (kern.log, kern.log.1, kern.log.2.gz) are read oldest
    first. Lines of every format may be mixed: audit.log, kern.log/syslog, dmesg, journalctl
    text and JSON, bare records.

    \b
    Examples:
      aaprof events /var/log/audit/audit.log --mode denied
      aaprof events --summary /var/log/kern.log*
      aaprof events --journal --boot 0 --profile 'k8s_*' --format jsonl
      aaprof events -f /var/log/kern.log --format jsonl
    """
    if not inputs and not journal:
        raise click.UsageError("name at least one LOG (or - for stdin), or use --journal")
    if follow and ("-" in inputs or summary):
        raise click.UsageError("--follow reads files, journals and /dev/kmsg: not - or --summary")
    selection = reading.selection(mode.lower())
    items = expand(list(inputs), missing_ok=follow)
    if journal:
        items.append(Input(SYSTEM_JOURNAL, journal=True))
    if boot is not None and not any(i.journal for i in items):
        raise click.UsageError("--boot selects journal entries: add --journal or a journal path")
    if follow and reading.proc_root is None and Path("/proc/self/cgroup").exists():
        reading = dataclasses.replace(reading, proc_root=Path("/proc"))
    reader = reading.reader(boot)
    attribute = reading.attributor()
    out = sys.stdout
    with Progress(items, reader, enabled=not follow) as done:
        if summary:
            result = entry.summary(reader, items, selection, attribute)
            done()
            render_summary(result, fmt, top, out)
        elif fmt == "jsonl" and not follow and (split := _split(items)) is not None:
            _jsonl_in_halves(reader, items, split, selection, attribute, out)
            done()
        else:
            stop = (lambda: False) if follow else None
            records = entry.records(reader, items, selection, attribute, stop=stop)
            if fmt not in JSON_FORMATS:
                reader.expect(items)  # (whether several nodes are read: a node column)
            render_events(records, fmt, out, nodes=reader.several_nodes)
            done()
    stats = reader.stats
    if not quiet:
        click.echo(render_stats(stats), err=True)
    for error in stats.errors:
        click.echo(f"aaprof: {error}", err=True)
    if stats.errors:
        raise SystemExit(1)


def _split(items: list[Input]) -> int | None:
    """Where a second process starts reading the one large plain file of `items`, or None."""
    if len(items) != 1 or items[0].journal:
        return None
    # (the child first counts the lines before its half: it gets a little less)
    return split_point(items[0].name, 0.51)


def _jsonl_in_halves(
    reader: Reader,
    items: list[Input],
    split: int,
    selection: Selection,
    attribute: Callable[[Event], Event],
    out: TextIO,
) -> None:
    """JSON lines of one large plain file, its second half read by a child process at the
    same time (logs/halves.py); the output and the stats are one process's."""
    # each process reads half the records: half the templates each (the line memo keeps all
    # its texts: fewer cost more in parses than they save; docs/performance.md)
    lines = JsonLines(kept=TEMPLATES_KEPT // 2)
    name = items[0].name

    def write(start: int, end: int | None, to: TextIO) -> ReadStats:
        # each half its own stats; only the first half's reader draws the progress
        part = dataclasses.replace(reader, stats=ReadStats(), progress=None)
        if not start:
            part.progress = reader.progress
        first_line = lines_before(name, start) if start else 0
        span = (start, end, first_line)
        render_json(entry.records(part, items, selection, attribute, part=span), lines, "jsonl", to)
        return part.stats

    for stats in write_in_halves(write, split, out):
        reader.stats.merge(stats, line_offset=0)
