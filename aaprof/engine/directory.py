"""DIR/profiles/: the profiles already there, their includes in place, and rules per file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from aaprof.engine.options import Item
from aaprof.errors import AaprofError
from aaprof.model import profile as m

if TYPE_CHECKING:
    from aaprof.profiles.includes import Includes

PROFILES = "profiles"  # DIR/profiles/: one file per top-level profile


def existing_profiles(directory: Path, base: Path) -> dict[str, tuple[Path, m.PolicyFile]]:
    """The profiles already in DIR/profiles, by profile name (each file's profiles).

    Raises:
        AaprofError: a file there that is not read (`includes.Includes.read`: a symlink out
            of DIR, a device, too large) or does not parse.
    """
    from aaprof.profiles.build import parse_policy

    found: dict[str, tuple[Path, m.PolicyFile]] = {}
    if not directory.is_dir():
        return found
    reader = includes_for(directory, base)
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        if path.name.startswith("."):
            continue
        policy = parse_policy(reader.read(path), filename=str(path))
        for profile in policy.profiles():
            found.setdefault(profile.name, (path, policy))
    return found


def includes_for(directory: Path, base: Path) -> Includes:
    """How the includes of DIR/profiles' files resolve: `<x>` under `base`; read below either."""
    from aaprof.profiles.includes import Includes

    return Includes((base,), (directory,))


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
        resolved = resolve_includes(policy, includes_for(path.parent, base))
        return inline_includes(profile, resolved)
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
