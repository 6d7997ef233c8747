"""Whether a profile fits the Security Profiles Operator's `AppArmorProfile` allow-lists."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aaprof.errors import AaprofError
from aaprof.model import profile as m

# SPO v1 crd2armor's checks: profile names, and paths (no comma, quote or newline).
SPO_NAME = re.compile(r"[a-zA-Z0-9_./-]+")
SPO_PATH = re.compile(r"/[a-zA-Z0-9_./*?+@{} -]*")
_GLOB = re.compile(r"[*?{\[]")
_PREAMBLE_INCLUDES = frozenset({"tunables/global"})
_BODY_INCLUDES = frozenset({"abstractions/base"})
_FLAGS = frozenset({"attach_disconnected", "mediate_deleted", "complain", "enforce"})
_NETWORK = {"tcp": "tcp", "udp": "udp", "raw": "raw"}


@dataclass(frozen=True, slots=True)
class SpoAbstract:
    """`spec.abstract` of an SPO `AppArmorProfile`: sorted allow-lists and network switches."""

    executables: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()
    read_only: tuple[str, ...] = ()
    write_only: tuple[str, ...] = ()
    read_write: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    tcp: bool = False
    udp: bool = False
    raw: bool = False


@dataclass(frozen=True, slots=True)
class SpoFit:
    """The abstract that expresses a profile exactly, or why none does."""

    abstract: SpoAbstract | None
    reason: str = ""


class _Unfit(Exception):
    """A part of the profile SPO's schema has no place for (the message says which)."""


def spo_abstract(name: str, text: str) -> SpoFit:
    """The SPO allow-lists that express profile `name`, whose source is `text`, rule for rule.

    Only exact equivalents count: `PATH r,` (readOnly), `PATH wlk,` (writeOnly), `PATH rwlk,`
    (readWrite), `PATH rix,` (executables), `PATH mr,` (libraries), `capability NAMES,`,
    `network tcp|udp|raw,`, with no qualifiers, plus `abi`, `include <tunables/global>`,
    `include <abstractions/base>` and the flags SPO sets itself. SPO adds deny rules for
    read-only and write-only paths, which could shadow an overlapping allow rule, so a glob in
    such a path with any other file rule present is refused too.

    Args:
        name: The profile's name (also the `AppArmorProfile`'s metadata.name).
        text: The profile file's text.

    Returns:
        An SpoFit with the abstract, or with None and a one-line reason.
    """
    if not SPO_NAME.fullmatch(name):
        return SpoFit(None, "SPO refuses the name")
    try:
        from aaprof.profiles.build import parse_policy

        policy = parse_policy(text, filename=name)
        return SpoFit(_abstract(name, policy))
    except AaprofError as exc:
        return SpoFit(None, f"does not parse: {exc}")
    except _Unfit as exc:
        return SpoFit(None, str(exc))


def _abstract(name: str, policy: m.PolicyFile) -> SpoAbstract:
    profiles = policy.profiles()
    if len(profiles) != 1 or profiles[0].name != name:
        raise _Unfit(f"the file must hold exactly one profile named {name}")
    for item in policy.items:
        if isinstance(item, m.Include) and item.magic and item.path in _PREAMBLE_INCLUDES:
            continue
        if not isinstance(item, m.Abi | m.Comment | m.Profile):
            raise _Unfit(f"preamble item {item.KIND} has no SPO equivalent")
    profile = profiles[0]
    if profile.attachment or profile.xattrs or not profile.flags <= _FLAGS:
        raise _Unfit("attachment, xattrs or flags SPO does not set")
    lists: dict[str, set[str]] = {k: set() for k in ("x", "m", "ro", "wo", "rw", "cap", "net")}
    for item in profile.body:
        _add(item, lists)
    _check_overlaps(lists)
    return SpoAbstract(
        executables=tuple(sorted(lists["x"])),
        libraries=tuple(sorted(lists["m"])),
        read_only=tuple(sorted(lists["ro"])),
        write_only=tuple(sorted(lists["wo"])),
        read_write=tuple(sorted(lists["rw"])),
        capabilities=tuple(sorted(lists["cap"])),
        tcp="tcp" in lists["net"],
        udp="udp" in lists["net"],
        raw="raw" in lists["net"],
    )


def _add(item: m.BodyItem, lists: dict[str, set[str]]) -> None:
    if isinstance(item, m.Comment):
        return
    if isinstance(item, m.Include) and item.magic and item.path in _BODY_INCLUDES:
        return
    if getattr(item, "qualifiers", m.NO_QUALIFIERS) != m.NO_QUALIFIERS:
        raise _Unfit(f"a qualified {item.KIND} rule (audit, deny, owner, priority)")
    if isinstance(item, m.FileRule):
        lists[_file_list(item)].add(item.path or "")
    elif isinstance(item, m.CapabilityRule) and item.names:
        lists["cap"].update(item.names)
    elif (
        isinstance(item, m.NetworkRule)
        and item.domain in _NETWORK
        and not (item.type or item.access or item.conds or item.peer)
    ):
        lists["net"].add(_NETWORK[item.domain])
    else:
        raise _Unfit(f"a {item.KIND} rule has no SPO equivalent")


def _file_list(rule: m.FileRule) -> str:
    if rule.path is None or rule.target or not SPO_PATH.fullmatch(rule.path):
        raise _Unfit(f"file rule path {rule.path!r} is not one SPO accepts")
    perms = "".join(sorted(rule.perms))
    if rule.exec_mode == "ix" and perms == "r":
        return "x"
    lists = {"r": "ro", "klw": "wo", "klrw": "rw", "mr": "m"}
    if rule.exec_mode is None and perms in lists:
        return lists[perms]
    mode = f"{perms}{rule.exec_mode or ''}"
    raise _Unfit(f"file rule {rule.path} {mode} has no SPO equivalent")


def _check_overlaps(lists: dict[str, set[str]]) -> None:
    # SPO denies wlk on read-only paths and r on write-only ones; refuse when such a deny may
    # cover a path another rule allows that access on (literal prefixes up to a glob meet).
    conflicts = {"ro": ("wo", "rw"), "wo": ("ro", "rw", "x", "m")}
    for key, others in conflicts.items():
        for path in lists[key]:
            for other in (q for k in others for q in lists[k]):
                a, b = _literal_prefix(path), _literal_prefix(other)
                if a.startswith(b) or b.startswith(a):
                    raise _Unfit(f"SPO's deny rules for {path} would cover {other}")


def _literal_prefix(path: str) -> str:
    match = _GLOB.search(path)
    return path if match is None else path[: match.start()]
