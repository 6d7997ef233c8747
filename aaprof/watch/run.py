"""Assembling a watch daemon from its options (the CLI's one call into the watch package)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from aaprof.errors import AaprofError
from aaprof.logs.follow import FollowedFile
from aaprof.logs.journal import FollowedJournal
from aaprof.logs.kmsg import FollowedKmsg
from aaprof.logs.live import Source
from aaprof.watch.attribution import Attributor
from aaprof.watch.daemon import Daemon
from aaprof.watch.metrics import DEFAULT_MAX_SERIES, Metrics
from aaprof.watch.output import RotatingFile
from aaprof.watch.pick import pick_source
from aaprof.watch.pods import PodsReport
from aaprof.watch.readiness import Loaded, Readiness
from aaprof.watch.sink import Sink
from aaprof.watch.state import State


@dataclass(frozen=True, slots=True)
class Options:
    logs: list[str]
    state: Path
    metrics_address: str | None = None
    journal: bool = False
    journal_path: str | None = None
    kmsg: bool = False
    kmsg_path: str | None = None
    proc_root: Path = Path("/proc")
    log_root: Path = Path("/var/log")
    host_root: Path = Path("/")
    node: str | None = None
    # the `node` label of the record counters (the pushed alerts' node label); none when empty
    node_label: str = ""
    output_file: str | None = None
    output_max_bytes: int = 100 << 20
    output_keep: int = 5
    max_series: int = DEFAULT_MAX_SERIES
    poll: float = 0.1
    once: bool = False
    sinks: list[Sink] = field(default_factory=list)
    # the profiles as loaded (the loader's directory): what a record's rule is new against
    profiles: Path | None = None
    base: Path = Path("/etc/apparmor.d")


def sources_for(options: Options, say: Callable[[str], None]) -> list[Source]:
    sources: list[Source] = [FollowedFile(os.path.abspath(path)) for path in options.logs]
    if options.journal:
        sources.append(FollowedJournal(options.journal_path))
    if options.kmsg:
        sources.append(FollowedKmsg(options.kmsg_path or "/dev/kmsg"))
    if not sources:
        pick = pick_source(options.host_root, options.proc_root)
        say(f"following {pick.path or 'the system journal'} ({pick.why})")
        if pick.kind == "file" and pick.path is not None:
            sources.append(FollowedFile(pick.path))
        elif pick.kind == "journal":
            sources.append(FollowedJournal(pick.path))
        else:
            sources.append(FollowedKmsg(pick.path or "/dev/kmsg"))
    return sources


def build(options: Options, out: BinaryIO, say: Callable[[str], None]) -> Daemon:
    """The daemon, its state opened and its metrics restored (nothing read yet)."""
    if not options.proc_root.is_dir():
        raise AaprofError(f"proc root {options.proc_root} is not a directory")
    state = State(options.state, say)
    metrics = Metrics(state.counts(), options.max_series)
    attributor = Attributor(options.proc_root, options.log_root)
    files = []
    if options.output_file:
        files.append(
            RotatingFile(options.output_file, options.output_max_bytes, options.output_keep)
        )
    return Daemon(
        sources=sources_for(options, say),
        state=state,
        metrics=metrics,
        attributor=attributor,
        out=out,
        node=options.node,
        sinks=options.sinks,
        files=files,
        poll=options.poll,
        say=say,
        pods=PodsReport(options.log_root, options.node or options.node_label or None),
        readiness=Readiness(state, Loaded(options.profiles, say, options.base)),
    )


def run_watch(
    options: Options,
    stop: threading.Event,
    out: BinaryIO,
    say: Callable[[str], None],
    on_hup: Callable[[Callable[[int, object], None]], object] = lambda handler: None,
) -> None:
    """Run until `stop` (or caught up, with `once`); SIGHUP through `on_hup` reopens."""
    daemon = build(options, out, say)
    threads: list[threading.Thread] = []
    try:
        on_hup(lambda signum, frame: daemon.request_reopen())
        if options.metrics_address is not None:
            from aaprof.watch.exposition import registry_for
            from aaprof.watch.http import Health, serve

            health = Health()

            def turned(caught_up: bool) -> None:
                health.beat = health.clock()
                health.ready = health.ready or caught_up

            daemon.on_turn = turned
            registry = registry_for(daemon.metrics, node=options.node_label)
            for sink in options.sinks:
                if hasattr(sink, "collect"):  # a sink with metrics of its own (the alert sink)
                    registry.register(sink)  # type: ignore[arg-type]
            server = serve(options.metrics_address, registry, health)
            host, port = server.server_address[:2]
            say(f"metrics on http://{host!s}:{port}/metrics")
        for sink in options.sinks:
            thread = threading.Thread(
                target=sink.run, args=(daemon.state.path, stop), name=sink.name, daemon=True
            )
            thread.start()
            threads.append(thread)
        daemon.run(stop, once=options.once)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        for f in daemon.files:
            f.close()
        daemon.state.close()
