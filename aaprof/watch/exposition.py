"""The Prometheus side: one registry per daemon, read from Metrics when scraped."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from aaprof import __version__
from aaprof.watch.metrics import COUNTERS, CRITICAL, LABELS, RECORDS, Metrics, label

HELP = {
    "aaprof_watch_records_total": "AppArmor records read, by workload, profile, mode and class.",
    "aaprof_watch_critical_records_total": "Records whose severity hint is critical (a subset).",
    "aaprof_watch_profile_last_record_timestamp_seconds": "Stamp of the newest record per series.",
    "aaprof_watch_series_overflow_total": "Records counted under the _overflow_ series (cap hit).",
    "aaprof_watch_parse_errors_total": "Lines that claim an AppArmor record but cannot be read.",
    "aaprof_watch_unattributed_records_total": "Records not attributed to a pod, by reason.",
    "aaprof_watch_records_lost_total": "Records known to be lost before they were read.",
    "aaprof_watch_records_reread_total": "Lines read again where a checkpoint's place was gone.",
    "aaprof_watch_noise_records_total": "Runtime-start noise records (output, not counted above).",
    "aaprof_watch_source_lag_seconds": "Now minus the stamp of the last record of the last batch.",
    "aaprof_watch_last_record_timestamp_seconds": "Stamp of the newest record read per source.",
    "aaprof_profile_new_rules_total": "Records whose rule was new for their profile (readiness).",
    "aaprof_profile_last_new_rule_timestamp_seconds": "Stamp of the newest record of a new rule.",
    "aaprof_profile_replicas_seen": "Pods that logged records under these workload labels.",
}
# The record counters also carry the node watch runs on: the rule pack's AppArmorDenied then has
# the label set of watch's pushed AppArmorDenied, and Alertmanager takes both for one alert.
NODE_LABELLED = (RECORDS, CRITICAL)


class WatchCollector:
    """Yields the committed counts as metric families (`node`: the record counters' node
    label, left out when empty)."""

    def __init__(self, metrics: Metrics, node: str = "") -> None:
        self.metrics = metrics
        self.node = label(node)

    def collect(self) -> Iterator[Metric]:
        snapshot = self.metrics.snapshot()
        for name, labels in LABELS.items():
            family: CounterMetricFamily | GaugeMetricFamily
            node = (self.node,) if self.node and name in NODE_LABELLED else ()
            names = [*labels, *("node" for _ in node)]
            if name in COUNTERS:
                family = CounterMetricFamily(name, HELP[name], labels=names)
            else:
                family = GaugeMetricFamily(name, HELP[name], labels=names)
            values = snapshot.get(name, {})
            if not labels and not values:
                values = {(): 0.0}
            for key, value in sorted(values.items()):
                family.add_metric([*key, *node], value)
            yield family
        up = GaugeMetricFamily("aaprof_watch_up", "1 while the watch daemon runs.")
        up.add_metric([], 1)
        yield up
        info = GaugeMetricFamily("aaprof_watch_build_info", "aaprof's version.", labels=["version"])
        info.add_metric([__version__], 1)
        yield info


def registry_for(metrics: Metrics, process: bool = True, node: str = "") -> CollectorRegistry:
    """A registry of its own (never the global one) with the watch and process metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WatchCollector(metrics, node))
    if process:
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
