"""The watch loop: poll each source, attribute, write, count, commit with the checkpoint.

For each batch: the records are parsed and attributed, their JSON lines written and flushed,
then one transaction takes the sinks' effects, the counts and the source's checkpoint. A crash
before the commit repeats the batch (its lines may appear twice, with the same identity) but
never counts it twice nor skips it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from aaprof.engine.noise import is_noise
from aaprof.logs.live import Raw, Source
from aaprof.logs.reader import Reader
from aaprof.logs.sources import Input
from aaprof.model.event import Container, Event
from aaprof.watch.alerts_keys import severity_of
from aaprof.watch.attribution import Attributor
from aaprof.watch.metrics import (
    CRITICAL,
    LOST,
    NOISE,
    PARSE_ERRORS,
    REREAD,
    SOURCE_LAST,
    UNATTRIBUTED,
    Metrics,
    Tally,
)
from aaprof.watch.output import LineWriter, RotatingFile
from aaprof.watch.pods import PodsReport
from aaprof.watch.readiness import Readiness
from aaprof.watch.sink import Sink
from aaprof.watch.state import State

BATCH = 4096
# The kernel's report of records its audit backlog dropped (kmsg: `audit: audit_lost=5 ...`).
_AUDIT_LOST = re.compile(rb"\baudit_lost=([0-9]{1,18})\b")
POLL_SECONDS = 0.1


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()


@dataclass(slots=True)
class Daemon:
    """Reads `sources` into `out` and the state; see the module's doc."""

    sources: Sequence[Source]
    state: State
    metrics: Metrics
    attributor: Attributor
    out: BinaryIO
    node: str | None = None
    sinks: Sequence[Sink] = ()
    files: Sequence[RotatingFile] = ()
    clock: Clock = field(default_factory=SystemClock)
    poll: float = POLL_SECONDS
    batch: int = BATCH
    on_turn: Callable[[bool], None] = lambda caught_up: None
    say: Callable[[str], None] = lambda message: None
    pods: PodsReport | None = None  # the node's pods, written as a line when they change
    readiness: Readiness | None = None  # new rules and replicas seen (watch/readiness.py)
    _reopen: threading.Event = field(default_factory=threading.Event)
    _writer: LineWriter = field(default_factory=LineWriter)
    _readers: dict[str, Reader] = field(default_factory=dict)

    def reader(self, label: str) -> Reader:
        """The reader of a source's records (logs' one path from a followed record to an
        Event), kept across batches: its duplicates window spans them."""
        reader = self._readers.get(label)
        if reader is None:
            reader = self._readers[label] = Reader(node=self.node)
            reader.expect([Input(label)])  # one input: its lines are one origin's
        return reader

    def request_reopen(self) -> None:
        """SIGHUP: reopen the sources at their checkpoints and the output files."""
        self._reopen.set()

    def start(self) -> None:
        if self.readiness is not None:
            self.readiness.reload()  # the profiles as loaded (again, on SIGHUP)
        if self.sinks:
            with self.state.transaction("set up its tables") as conn:
                for sink in self.sinks:
                    sink.setup(conn)
        for source in self.sources:
            checkpoint = self.state.checkpoint(source.label)
            try:
                source.restore(checkpoint)
            except (ValueError, TypeError, KeyError) as exc:
                raise self.state.untrusted(
                    f"the checkpoint of {source.label!r} is not one watch wrote ({exc!r})"
                ) from None
            self.metrics.declare(source.label, source.lost_reasons)
            if checkpoint is None:
                # Watch answers for what was written since its first start: record where that
                # was at once, so a crash before the first batch does not move it.
                with self.state.transaction("save the first checkpoint"):
                    self.state.save_checkpoint(source.label, source.checkpoint())
            where = "its checkpoint" if checkpoint else "its start (no checkpoint)"
            self.say(f"following {source.label} from {where}")
            for note in source.take_notes():
                self.say(note)

    def run(self, stop: threading.Event, once: bool = False) -> None:
        """Until `stop` is set (finishing the batch in hand), or, with `once`, caught up."""
        self.start()
        try:
            while not stop.is_set():
                if self._reopen.is_set():
                    self._reopen.clear()
                    self.start()
                    for f in self.files:
                        f.reopen()
                    self.say("reopened the sources and output files (SIGHUP)")
                self.report_pods()
                busy = False
                for source in self.sources:
                    busy |= self.step(source)
                self.on_turn(not busy)
                if not busy:
                    if once:
                        break
                    stop.wait(self.poll)
        finally:
            for source in self.sources:
                source.close()

    def report_pods(self) -> None:
        """Write the node's pods when they changed (model/pods.py): a snapshot, outside the
        batches (written again after a restart, which changes nothing it says)."""
        line = self.pods.line(self.clock.now()) if self.pods is not None else None
        if line is not None:
            self.out.write(line)
            self.out.flush()
            for f in self.files:
                f.write(line)

    def step(self, source: Source) -> bool:
        """One batch of one source, committed; whether it had anything."""
        raws = source.poll(self.batch)
        lost, reread = source.take_lost(), source.take_reread()
        for note in source.take_notes():  # a loss, or a place found again, while running
            self.say(note)
        tally = Tally()
        now = self.clock.now()
        if not raws and not lost and not reread:
            tally.lag[source.label] = 0.0
            self.metrics.apply(tally)
            return False
        for reason, count in lost.items():
            tally.add(LOST, (source.label, reason), count)
        for reason, count in reread.items():
            tally.add(REREAD, (source.label, reason), count)
        events, lines = self._read(source.label, raws, tally, now)
        if lines:
            data = b"".join(lines)
            self.out.write(data)
            self.out.flush()
            for f in self.files:
                f.write(data)
        state = self.state
        with state.transaction() as conn:
            for sink in self.sinks:
                sink.handle(conn, events, now)
            for metric, per in tally.adds.items():
                state.add_counts(metric, per)
            for metric, per in tally.sets.items():
                state.set_values(metric, per)
            if self.readiness is not None:
                self.readiness.save(state)
            state.save_checkpoint(source.label, source.checkpoint())
        self.metrics.apply(tally)
        return True

    def _read(
        self, label: str, raws: Sequence[Raw], tally: Tally, now: float
    ) -> tuple[list[Event], list[bytes]]:
        events: list[Event] = []
        lines: list[bytes] = []
        newest: float | None = None
        attribute, writer, metrics, keep, ready = (
            self.attributor.attribute,
            self._writer,
            self.metrics,
            bool(self.sinks),
            self.readiness,
        )
        self.attributor.new_batch()
        for raw in raws:  # the kernel's own count of records it dropped (kmsg, kern.log)
            data = raw.data
            if isinstance(data, bytes) and b"audit_lost=" in data:
                found = _AUDIT_LOST.search(data)
                if found:
                    metrics.audit_lost(tally, label, int(found[1]))
        reader = self.reader(label)
        unparsed = reader.stats.unparsed
        for event in reader.live(raws):
            container, who = attribute(event)
            noise = is_noise(event)
            lines.append(writer.line(event, container, who, noise))
            stamp = event.epoch
            if stamp is not None and (newest is None or stamp > newest):
                newest = stamp
            if noise:
                tally.add(NOISE)
                continue
            if who.reason is not None:
                tally.add(UNATTRIBUTED, (who.reason,))
            key = metrics.count_record(tally, who, event.profile, event.mode, event.class_, stamp)
            if severity_of(event) == "critical":
                tally.add(CRITICAL, key)
            if ready is not None:
                ready.see(tally, key, event, container, stamp if stamp is not None else now)
            if keep:
                if container is None and who.namespace:
                    # a record whose process had gone: the sinks see it under the labels the
                    # metrics count it with (`_unattributed_`), so watch's pushed alert and the
                    # rule pack's alert for it are one alert in Alertmanager
                    container = Container(
                        namespace=who.namespace, pod=who.workload, name=who.container
                    )
                events.append(event if container is None else event.replace(container=container))
        if reader.stats.unparsed > unparsed:
            tally.add(PARSE_ERRORS, (label,), reader.stats.unparsed - unparsed)
        if newest is not None:
            tally.latest(SOURCE_LAST, (label,), newest)
            tally.lag[label] = max(now - newest, 0.0)
        return events, lines
