"""The watch daemon's counts: bounded label sets, restored from and committed to the state.

Counts live here as plain numbers; a batch's changes are first gathered in a Tally, written to
the state database in the batch's transaction, and applied here only after the commit, so
`/metrics` shows exactly what the database holds: a batch read again after a crash was never
counted. The Prometheus side (exposition.py) reads these numbers when scraped.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from aaprof.watch.attribution import Attribution
from aaprof.watch.state import Labels

RECORDS = "aaprof_watch_records_total"
# The records whose severity hint is critical (a subset of RECORDS, same labels; docs/alerts.md).
CRITICAL = "aaprof_watch_critical_records_total"
PROFILE_LAST = "aaprof_watch_profile_last_record_timestamp_seconds"
OVERFLOW = "aaprof_watch_series_overflow_total"
PARSE_ERRORS = "aaprof_watch_parse_errors_total"
UNATTRIBUTED = "aaprof_watch_unattributed_records_total"
LOST = "aaprof_watch_records_lost_total"
REREAD = "aaprof_watch_records_reread_total"
NOISE = "aaprof_watch_noise_records_total"
LAG = "aaprof_watch_source_lag_seconds"
SOURCE_LAST = "aaprof_watch_last_record_timestamp_seconds"
# Readiness (watch/readiness.py): records whose rule was new for their profile, the stamp of the
# newest, and the pods that logged under a workload's labels.
NEW_RULES = "aaprof_profile_new_rules_total"
NEW_LAST = "aaprof_profile_last_new_rule_timestamp_seconds"
REPLICAS = "aaprof_profile_replicas_seen"

RECORD_LABELS = ("namespace", "workload", "container", "profile", "mode", "class")
LABELS: dict[str, tuple[str, ...]] = {
    RECORDS: RECORD_LABELS,
    CRITICAL: RECORD_LABELS,
    PROFILE_LAST: RECORD_LABELS[:5],
    OVERFLOW: (),
    PARSE_ERRORS: ("source",),
    UNATTRIBUTED: ("reason",),
    LOST: ("source", "reason"),
    REREAD: ("source", "reason"),
    NOISE: (),
    LAG: ("source",),
    SOURCE_LAST: ("source",),
    NEW_RULES: RECORD_LABELS[:5],
    NEW_LAST: RECORD_LABELS[:5],
    REPLICAS: RECORD_LABELS[:4],
}
COUNTERS = (
    RECORDS, CRITICAL, OVERFLOW, PARSE_ERRORS, UNATTRIBUTED, LOST, REREAD, NOISE, NEW_RULES
)  # fmt: skip
# Gauges kept in the state (the last-record times, the replicas seen); the lag is live only.
STORED_GAUGES = (PROFILE_LAST, SOURCE_LAST, NEW_LAST, REPLICAS)

# Not exported: the kernel's cumulative audit_lost last seen per source (to count its increase).
AUDIT_LOST_SEEN = "aaprof_watch_audit_lost_seen"

OVERFLOW_VALUE = "_overflow_"
DEFAULT_MAX_SERIES = 2000
# Series by mode and class alone that records over the cap may still open.
OVERFLOW_SERIES = 64
MAX_LABEL_CHARS = 200


def label(value: str | None) -> str:
    """A label value: any string, made valid UTF-8 (bad bytes as U+FFFD) and bounded in size.

    Quotes, backslashes and newlines stay as they are: the exposition format escapes them. A
    carriage return, which it does not escape and which line-based readers of the text (a
    textfile collector, a CRLF-normalising proxy) take for a line end, becomes the two
    characters `\\r`.
    """
    if not value:
        return ""
    return valid_utf8(value).replace("\r", "\\r")[:MAX_LABEL_CHARS]


def valid_utf8(value: str) -> str:
    """`value` with undecodable bytes (kept as surrogate escapes) and lone surrogates as U+FFFD."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        try:
            raw = value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raw = value.encode("utf-8", "surrogatepass")
        return raw.decode("utf-8", "replace")
    return value


@dataclass(slots=True)
class Tally:
    """One batch's changes: counter increments and stored gauge values."""

    adds: dict[str, dict[Labels, float]] = field(default_factory=dict)
    sets: dict[str, dict[Labels, float]] = field(default_factory=dict)
    lag: dict[str, float] = field(default_factory=dict)

    def add(self, metric: str, labels: Labels = (), by: float = 1) -> None:
        per = self.adds.setdefault(metric, {})
        per[labels] = per.get(labels, 0) + by

    def latest(self, metric: str, labels: Labels, value: float) -> None:
        per = self.sets.setdefault(metric, {})
        if value > per.get(labels, float("-inf")):
            per[labels] = value


class Metrics:
    """Committed counts (thread-safe for the scraper) and the series cap."""

    def __init__(
        self, restored: dict[str, dict[Labels, float]], max_series: int = DEFAULT_MAX_SERIES
    ) -> None:
        self.lock = threading.Lock()
        self.max_series = max_series
        self._keys: dict[tuple[Attribution, str | None, str, str | None], Labels] = {}
        self.values: dict[str, dict[Labels, float]] = {m: {} for m in (*LABELS, AUDIT_LOST_SEEN)}
        for metric, per in restored.items():
            if metric in self.values:
                self.values[metric].update(per)

    def count_record(
        self,
        tally: Tally,
        who: Attribution,
        profile: str | None,
        mode: str,
        class_: str | None,
        stamp: float | None,
    ) -> Labels:
        """Count one record; its labels (after the cap) are returned."""
        raw = (who, profile, mode, class_)
        key = self._keys.get(raw)
        if key is None:
            key = (
                label(who.namespace),
                label(who.workload),
                label(who.container),
                label(profile),
                label(mode.lower()),
                label(class_),
            )
            if len(self._keys) >= 8192:
                self._keys.clear()
            self._keys[raw] = key
        known = self.values[RECORDS]
        pending = tally.adds.get(RECORDS, {})
        if key not in known and key not in pending and len(known) + len(pending) >= self.max_series:
            # Over the cap: counted by mode and class only, and those too are capped.
            key = (OVERFLOW_VALUE,) * 4 + key[4:]
            spare = self.max_series + OVERFLOW_SERIES - len(known) - len(pending)
            if key not in known and key not in pending and spare <= 0:
                key = (OVERFLOW_VALUE,) * 6
            tally.add(OVERFLOW)
        tally.add(RECORDS, key)
        if stamp is not None:
            tally.latest(PROFILE_LAST, key[:5], stamp)
        return key

    def declare(self, source: str, lost_reasons: tuple[str, ...]) -> None:
        """Show a source's error and loss counts at 0 before anything happened."""
        with self.lock:
            self.values[PARSE_ERRORS].setdefault((source,), 0)
            for reason in lost_reasons:
                self.values[LOST].setdefault((source, reason), 0)

    def apply(self, tally: Tally) -> None:
        """Make a committed batch's changes visible."""
        with self.lock:
            for metric, per in tally.adds.items():
                values = self.values[metric]
                for key, by in per.items():
                    values[key] = values.get(key, 0) + by
            for metric, per in tally.sets.items():
                values = self.values[metric]
                for key, value in per.items():
                    latest = metric == AUDIT_LOST_SEEN
                    values[key] = value if latest else max(value, values.get(key, value))
            self.values[LAG].update({(s,): v for s, v in tally.lag.items()})

    def audit_lost(self, tally: Tally, source: str, value: int) -> None:
        """The kernel reported `audit_lost=value` (cumulative since boot): count its increase."""
        seen = tally.sets.get(AUDIT_LOST_SEEN, {}).get((source,))
        if seen is None:
            seen = self.values[AUDIT_LOST_SEEN].get((source,), 0)
        # A smaller value is a new boot's count.
        increase = value - seen if value >= seen else value
        if increase:
            tally.add(LOST, (source, "audit_lost"), increase)
        tally.sets.setdefault(AUDIT_LOST_SEEN, {})[(source,)] = value

    def snapshot(self) -> dict[str, dict[Labels, float]]:
        with self.lock:
            return {metric: dict(per) for metric, per in self.values.items()}
