"""DIR/profiles/: the profiles already there, their includes in place, and rules per file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aaprof.engine.options import Item
from aaprof.errors import AaprofError
from aaprof.model import profile as m

PROFILES = "profiles"  # DIR/profiles/: one file per top-level profile


def existing_profiles(directory: Path) -> dict[str, tuple[Path, m.PolicyFile]]:
    """The profiles already in DIR/profiles, by profile name (each file's profiles)."""
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


def inlined(
    profile: m.Profile, policy: m.PolicyFile, path: Path, base: Path, warnings: list[str]
) -> m.Profile:
    """The profile with its includes in place, so what they allow is not proposed again.

    Where the includes cannot be followed (no AppArmor on this host), the profile is taken as
    written and a warning names the include: what it allows may then be proposed again.
    """
    from aaprof.profiles.coverage import inline_includes
    from aaprof.profiles.includes import resolve_includes

    try:
        return inline_includes(profile, resolve_includes(policy, base), base, path)
    except AaprofError as exc:
        warnings.append(
            f"{exc}; what the includes of {profile.name} allow is proposed again "
            f"(--base names where they resolve)"
        )
        return profile


def by_parent(
    chosen: Mapping[str, tuple[Item, ...]],
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
