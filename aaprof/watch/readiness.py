"""Readiness on a node: which records need a new rule, and the replicas each workload logged from.

For each record of a profile in complain or enforce mode, `engine.newrules.NewRules` says
whether its rule is new (not allowed by the profile as loaded, not seen before); watch counts
those (`aaprof_profile_new_rules_total`), keeps the stamp of the newest
(`aaprof_profile_last_new_rule_timestamp_seconds`) and how many pods logged under each
workload's labels (`aaprof_profile_replicas_seen`). The rules and pods seen are kept in the
state database with the batch that saw them, so a restart neither forgets them nor counts a
rule new twice.

The profiles as loaded are read from `--profiles DIR` (the directory the loader loads: the
bundle's ConfigMap, mounted), with their includes; without it, or for a profile not there,
nothing is taken as allowed and each rule is new once, at its first record.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aaprof.engine.directory import existing_profiles, inlined
from aaprof.engine.newrules import NewRules
from aaprof.engine.suggest import profile_in
from aaprof.errors import AaprofError
from aaprof.model import profile as m
from aaprof.model.event import Container, Event
from aaprof.watch.metrics import NEW_LAST, NEW_RULES, OVERFLOW_VALUE, REPLICAS, Tally
from aaprof.watch.state import Labels, State

# The modes whose records tell what a profile lacks: complain (ALLOWED) and enforce.
MODES = frozenset({"ALLOWED", "DENIED", "KILLED"})
MAX_PODS = 1000  # pods kept per workload's labels
BASE = Path("/etc/apparmor.d")


class Loaded:
    """The profiles of `--profiles DIR` as loaded, includes in place (read again on SIGHUP)."""

    def __init__(self, directory: Path | None, say: Callable[[str], None], base: Path = BASE):
        self.directory, self.base, self.say = directory, base, say
        self.profiles: dict[str, m.Profile] = {}

    def read(self) -> None:
        self.profiles = {}
        if self.directory is None:
            return
        if not self.directory.is_dir():
            self.say(f"--profiles {self.directory}: not a directory; no profile is taken as loaded")
            return
        warnings: list[str] = []
        try:
            found = existing_profiles(self.directory, self.base)
        except AaprofError as exc:
            self.say(f"{exc}; no profile of {self.directory} is taken as loaded")
            return
        for name, (path, policy) in found.items():
            profile = next(p for p in policy.profiles() if p.name == name)
            self.profiles[name] = inlined(profile, policy, path, self.base, warnings)
        for warning in warnings:
            self.say(warning)
        self.say(f"read {len(self.profiles)} loaded profile(s) from {self.directory}")

    def get(self, name: str) -> m.Profile | None:
        return profile_in(self.profiles, name)


class Readiness:
    """New rules and replicas seen, per workload's labels; what a batch adds to the state."""

    def __init__(self, state: State, loaded: Loaded) -> None:
        self.loaded = loaded
        self.rules = NewRules(state.rules_seen(), loaded.get)
        self.pods = state.replicas_seen()
        self.added_pods: set[tuple[Labels, str]] = set()

    def reload(self) -> None:
        """Read the profiles as loaded (at start, and again on SIGHUP)."""
        self.loaded.read()
        self.rules.reloaded()

    def see(
        self, tally: Tally, key: Labels, event: Event, container: Container | None, stamp: float
    ) -> None:
        """Count a record under its labels `key` (namespace, workload, container, profile,
        mode, class; after the series cap)."""
        if event.mode not in MODES or key[3] == OVERFLOW_VALUE:
            return
        if self.rules.new(event) is not None:
            tally.add(NEW_RULES, key[:5])
            tally.latest(NEW_LAST, key[:5], stamp)
        if container is not None and container.namespace and container.pod:
            workload = key[:4]
            pods = self.pods.get(workload)
            if pods is None:
                pods = self.pods[workload] = set()
            pod = f"{container.namespace}/{container.pod}"
            if pod not in pods and len(pods) < MAX_PODS:
                pods.add(pod)
                self.added_pods.add((workload, pod))
            tally.latest(REPLICAS, workload, float(len(pods)))

    def save(self, state: State) -> None:
        """Into the batch's transaction: the rules and pods this batch saw first."""
        added, self.added_pods = self.added_pods, set()
        state.add_seen(self.rules.take_added(), added)
