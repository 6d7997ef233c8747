"""The generate workflow: logs → engine → DIR/profiles/ and DIR/k8s/, merged with what is there."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aaprof import __version__
from aaprof.errors import AaprofError
from aaprof.logs.reader import Reader, ReadStats
from aaprof.logs.sources import Input, expand
from aaprof.model import profile as m
from aaprof.model.event import Event
from aaprof.profiles.includes import DEFAULT_PROFILE_DIR

if TYPE_CHECKING:
    from aaprof.engine import Decision, Item, ProfileSuggestions

PROFILES = "profiles"
K8S = "k8s"


@dataclass(frozen=True, slots=True)
class Gap:
    """A profile in DIR whose recorded accesses it does not all allow (the promotion gate)."""

    profile: str
    rules: tuple[str, ...]
    last_new: datetime | None

    def to_dict(self) -> dict[str, object]:
        return {
            "profile": self.profile,
            "missing_rules": list(self.rules),
            "last_new_access": self.last_new.isoformat() if self.last_new else None,
        }

    def text(self) -> str:
        age = ""
        if self.last_new is not None:
            hours = (datetime.now(UTC) - self.last_new).total_seconds() / 3600
            age = f", last new access {self.last_new:%Y-%m-%d %H:%M} UTC ({hours:.1f} h ago)"
        head = f"{self.profile}: {len(self.rules)} access(es) not covered{age}"
        return "\n".join([head, *(f"  {rule}" for rule in self.rules)])


@dataclass(frozen=True, slots=True)
class Written:
    """What a run wrote: profile files (with the number of new rules each) and bundle files."""

    out: Path
    profiles: tuple[tuple[str, Path, int], ...]
    bundle: tuple[Path, ...]
    stats: ReadStats

    def to_dict(self) -> dict[str, object]:
        return {
            "profiles": [
                {"profile": name, "file": str(path), "new_rules": n}
                for name, path, n in self.profiles
            ],
            "k8s": [str(p) for p in self.bundle],
            "read": self.stats.to_dict(),
        }

    def text(self) -> str:
        lines = [f"read {self.stats.lines} lines, {self.stats.records} records"]
        for name, path, n in self.profiles:
            lines.append(f"  {path}  ({name}: {n} new rule{'s' if n != 1 else ''})")
        if self.bundle:
            lines.append(f"  {self.out / K8S}/  ({len(self.bundle)} files: kubectl apply -k)")
        return "\n".join(lines) + "\n"


@dataclass(slots=True)
class Generation:
    """One `aaprof generate` run: the events read, the engine's suggestions, the target DIR."""

    out: Path
    logs: tuple[str, ...]
    mode: str
    inputs: list[Input]
    wanted: frozenset[str]
    only: str | None
    stats: ReadStats
    existing: dict[str, tuple[Path, m.PolicyFile]]
    decisions: tuple[Decision, ...] | None
    per_container: bool
    include_noise: bool
    base: Path
    seen: int = 0
    progress: Callable[[int], None] | None = None  # told the bytes read so far, now and then
    _cached: tuple[ProfileSuggestions, ...] | None = None

    @classmethod
    def prepare(
        cls,
        logs: Sequence[str],
        out: Path,
        *,
        mode: str = "complain",
        decisions: Path | None = None,
        only: str | None = None,
        per_container: bool = False,
        include_denied: bool = False,
        include_noise: bool = False,
        base: Path = DEFAULT_PROFILE_DIR,
    ) -> Generation:
        """Read the logs and what DIR/profiles holds; load the decisions file.

        Raises:
            AaprofError: an unreadable log, a profile in DIR that does not parse, a bad
                decisions file.
        """
        from aaprof.engine import load_decisions

        inputs = expand(list(logs))
        return cls(
            out,
            tuple(logs),
            mode,
            inputs,
            frozenset({"ALLOWED", "DENIED"} if include_denied else {"ALLOWED"}),
            only,
            ReadStats(),
            _existing(out / PROFILES),
            load_decisions(decisions) if decisions is not None else None,
            per_container,
            include_noise,
            base,
        )

    def _events(self) -> Iterator[Event]:
        """The records to learn from, read as they are needed (never all held at once)."""
        reader = Reader(progress=self.progress)
        self.stats = reader.stats
        for event in reader.events(self.inputs):
            if event.mode in self.wanted and (
                self.only is None or fnmatch.fnmatchcase(event.profile or "", self.only)
            ):
                self.seen += 1
                yield event
        if reader.stats.errors:
            raise AaprofError("; ".join(reader.stats.errors))

    def _suggestions(self) -> tuple[ProfileSuggestions, ...]:
        """The engine's suggestions for what DIR's profiles do not allow yet (computed once)."""
        from aaprof.engine import suggest

        if self._cached is not None:
            return self._cached
        existing = {}
        for name, (path, policy) in self.existing.items():
            found = _profile(policy, name)
            if found is not None:
                existing[name] = _inlined(found, policy, path, self.base)
        self._cached = suggest(
            self._events(),
            existing=existing,
            include_noise=self.include_noise,
            per_container=self.per_container,
        )
        return self._cached

    def learned_from(self) -> int:
        """How many records the run learns from (reading the logs if not done yet)."""
        self._suggestions()
        return self.seen

    def _chosen(self) -> dict[str, tuple[Item, ...]]:
        """The rules to add, by profile (`parent//child` for children), decisions applied."""
        from aaprof.engine import apply

        return {k: v for k, v in apply(self._suggestions(), self.decisions).items() if v}

    def uncovered(self) -> list[Gap]:
        """Per profile, the rules its recorded accesses still need, and when the last record
        that needed one was written (nothing is written here)."""
        from aaprof.engine import apply

        suggestions = self._suggestions()
        chosen = {k: v for k, v in apply(suggestions, self.decisions).items() if v}
        last: dict[str, datetime] = {}
        for group in suggestions:
            for s in group.suggestions:
                if s.last_seen is not None and s.last_seen > last.get(group.profile, s.last_seen):
                    last[group.profile] = s.last_seen
                elif s.last_seen is not None:
                    last.setdefault(group.profile, s.last_seen)
        return [
            Gap(name, tuple(_item_text(r) for r in rules), last.get(name))
            for name, rules in sorted(chosen.items())
        ]

    def write(self, *, k8s: bool = True, legacy_annotation: bool = False) -> Written:
        """Write (merge) DIR/profiles/<name> for every profile with records, and DIR/k8s/."""
        from aaprof.engine import assemble, profile_filename
        from aaprof.profiles.compare import write_atomically
        from aaprof.profiles.render import render_policy

        (self.out / PROFILES).mkdir(parents=True, exist_ok=True)
        written = []
        texts: dict[str, str] = {}
        for name, (rules, children) in sorted(_by_parent(self._chosen()).items()):
            path, existing = self.existing.get(
                name, (self.out / PROFILES / profile_filename(name), None)
            )
            policy = assemble(
                name,
                rules,
                mode=self.mode,
                existing=existing,
                header=self._header(),
                children=children,
            )
            text = render_policy(policy)
            write_atomically(path, text)
            texts[name] = text
            written.append((name, path, len(rules) + sum(len(c) for c in children.values())))
        for name, (path, _policy) in self.existing.items():
            texts.setdefault(name, path.read_text(errors="surrogateescape"))
        bundle = self._write_bundle(texts, legacy_annotation) if k8s and texts else ()
        return Written(self.out, tuple(written), bundle, self.stats)

    def _header(self) -> tuple[str, ...]:
        sources = ", ".join(self.logs[:5]) + (" …" if len(self.logs) > 5 else "")
        # Each line starts with "aaprof" so that a re-run replaces this header (engine.assemble).
        return (
            f"aaprof {__version__} generated this profile from: {sources}",
            "aaprof proposed the rules from recorded accesses. Edit freely: re-running",
            "aaprof generate adds new rules and keeps everything written here.",
        )

    def _write_bundle(self, texts: dict[str, str], legacy_annotation: bool) -> tuple[Path, ...]:
        from aaprof.k8s.bundle import render_bundle, targets_for
        from aaprof.profiles.compare import write_atomically

        files = render_bundle(
            texts, targets_for(texts), legacy_annotation=legacy_annotation, mode=self.mode
        )
        paths = []
        for relative, content in sorted(files.items()):
            path = self.out / K8S / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, content)
            paths.append(path)
        return tuple(paths)


def _existing(directory: Path) -> dict[str, tuple[Path, m.PolicyFile]]:
    """The profiles already in DIR/profiles, by profile name (each file's first profile)."""
    from aaprof.profiles.compare import read_policy

    found: dict[str, tuple[Path, m.PolicyFile]] = {}
    if not directory.is_dir():
        return found
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        if path.name.startswith("."):
            continue
        policy = read_policy(path)
        for profile in policy.profiles():
            found.setdefault(profile.name, (path, policy))
    return found


def _inlined(profile: m.Profile, policy: m.PolicyFile, path: Path, base: Path) -> m.Profile:
    """The profile with its includes in place, so what they allow is not proposed again.

    Where the includes cannot be followed (no AppArmor on this host), the profile is taken as
    written: what its includes allow is then proposed again, never wrongly left out.
    """
    from aaprof.profiles.coverage import inline_includes
    from aaprof.profiles.includes import resolve_includes

    try:
        return inline_includes(profile, resolve_includes(policy, base), base, path)
    except AaprofError:
        return profile


def _by_parent(
    chosen: dict[str, tuple[Item, ...]],
) -> dict[str, tuple[tuple[Item, ...], dict[str, tuple[Item, ...]]]]:
    """Rules per top-level profile, with those of its children (`parent//child`) beside."""
    out: dict[str, tuple[tuple[Item, ...], dict[str, tuple[Item, ...]]]] = {}
    for name, rules in chosen.items():
        parent, _, child = name.partition("//")
        own, children = out.get(parent, ((), {}))
        if child:
            children[child] = (*children.get(child, ()), *rules)
        else:
            own = (*own, *rules)
        out[parent] = (own, children)
    return out


def _item_text(item: Item) -> str:
    from aaprof.profiles.render import render_item

    return render_item(item)[0]


def _profile(policy: m.PolicyFile, name: str) -> m.Profile | None:
    return next((p for p in policy.profiles() if p.name == name), None)
