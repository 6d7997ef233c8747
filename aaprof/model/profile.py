"""The AppArmor policy language as frozen types: a policy file, its profiles and every rule kind."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

# Strings are kept as AppArmor's pattern engine sees them: quotes removed and the lexer's escapes
# (`\"`, `\ `, `\xNN`, octal, `\n` ...) decoded, but AARE escapes (`\*`, `\{`, `\\` ...) kept, so
# `FileRule.path` is the real path pattern. Bytes that are not UTF-8 travel as surrogate escapes
# (`bytes.decode("utf-8", "surrogateescape")`). Variables (`@{HOME}`) stay unexpanded.
#
# Sets whose order does not matter (permissions, capability names, signal sets, flags) are
# frozensets; the renderer sorts them. Sequences whose order is kept are tuples.

JSON = str | int | bool | None | list["JSON"] | dict[str, "JSON"]

EXEC_MODES = (
    "x", "ix", "ux", "Ux", "px", "Px", "cx", "Cx",
    "pix", "Pix", "cix", "Cix", "pux", "PUx", "cux", "CUx",
)  # fmt: skip
FILE_PERMS = frozenset("rwalkm")


def _jsonable(value: object) -> JSON:
    if isinstance(value, frozenset):
        return sorted(_jsonable(v) for v in value)  # type: ignore[type-var]
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _fields_dict(value)
    if value is None or isinstance(value, str | int | bool):
        return value
    raise TypeError(f"not serialisable: {type(value).__name__}")


def _fields_dict(obj: object) -> dict[str, JSON]:
    out: dict[str, JSON] = {"kind": getattr(obj, "KIND", type(obj).__name__)}
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if value is None or value is False or value in ((), frozenset(), NO_QUALIFIERS):
            continue
        out[f.name] = _jsonable(value)
    return out


class _Serialisable:
    """`to_dict()` for every model type: non-empty fields only, sets sorted, plus a `kind`."""

    __slots__ = ()
    KIND = ""

    def to_dict(self) -> dict[str, JSON]:
        """This item as JSON-ready data (sets sorted, empty fields left out)."""
        return _fields_dict(self)


@dataclass(frozen=True, slots=True)
class Qualifiers(_Serialisable):
    """What may precede a rule: `[priority=N] [audit] [allow|deny] [owner|other]`.

    `access` is "allow", "deny" or None (allow implied). `owner` and `other` (files not owned
    by the task's fsuid) apply to file-like rules only.
    """

    KIND = "qualifiers"
    audit: bool = False
    access: str | None = None
    owner: bool = False
    priority: int | None = None
    other: bool = False

    @property
    def deny(self) -> bool:
        """True for a deny rule."""
        return self.access == "deny"


NO_QUALIFIERS = Qualifiers()


@dataclass(frozen=True, slots=True)
class Cond(_Serialisable):
    """A `key=value`, `key=(v1 v2)` or `key in (v1 v2)` condition (mount, unix, dbus ...).

    In `xattrs=(...)` a bare value (no `=`) is a Cond with that key, no values and op "".
    """

    KIND = "cond"
    key: str
    values: tuple[str, ...]
    op: str = "="


# ---- preamble and structural items -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Comment(_Serialisable):
    """A `#` comment, kept as its own line (text after the `#`, without the newline)."""

    KIND = "comment"
    text: str


@dataclass(frozen=True, slots=True)
class Abi(_Serialisable):
    """`abi <abi/3.0>,` (magic=True) or `abi "/path",`."""

    KIND = "abi"
    path: str
    magic: bool = True


@dataclass(frozen=True, slots=True)
class Include(_Serialisable):
    """`include <x>` (magic=True, relative to the profile dir), `include "x"`, `if exists`."""

    KIND = "include"
    path: str
    magic: bool = True
    if_exists: bool = False


@dataclass(frozen=True, slots=True)
class Variable(_Serialisable):
    """`@{NAME}=v1 v2` (op "="), `@{NAME}+=v3` ("+="), `?=` (set if unset), `:=` (override).

    `name` is without `@{}`.
    """

    KIND = "variable"
    name: str
    values: tuple[str, ...]
    op: str = "="

    def after(self, before: tuple[str, ...] | None) -> tuple[str, ...]:
        """The values once this assignment ran, given those before it (None: not yet set)."""
        if self.op == "+=":
            return (*(before or ()), *self.values)
        if self.op == "?=" and before is not None:
            return before
        return self.values


@dataclass(frozen=True, slots=True)
class BooleanDef(_Serialisable):
    """`$NAME = true` (name without `$`); op "=", "?=" (set if unset) or ":=" (override)."""

    KIND = "boolean"
    name: str
    value: bool
    op: str = "="


@dataclass(frozen=True, slots=True)
class Alias(_Serialisable):
    """`alias /orig -> /rewritten,`."""

    KIND = "alias"
    original: str
    replacement: str


# ---- rules ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileRule(_Serialisable):
    """`[owner] [file] PATH PERMS [-> TARGET],`; path None with no perms is the bare `file,`.

    `perms` holds the letters of `rwalkm` (and deprecated upper-case ones as written);
    `exec_mode` one of EXEC_MODES or None; `target` the `->` exec target; `exec_safety`
    "safe" or "unsafe" when written before leading permissions (`unsafe px /x,`).
    """

    KIND = "file"
    qualifiers: Qualifiers = NO_QUALIFIERS
    path: str | None = None
    perms: frozenset[str] = frozenset()
    exec_mode: str | None = None
    target: str | None = None
    keyword: bool = False
    exec_safety: str | None = None


@dataclass(frozen=True, slots=True)
class LinkRule(_Serialisable):
    """`[owner] link [subset] PATH -> TARGET,`."""

    KIND = "link"
    qualifiers: Qualifiers
    path: str
    target: str
    subset: bool = False


@dataclass(frozen=True, slots=True)
class CapabilityRule(_Serialisable):
    """`capability [names],`; no names means every capability."""

    KIND = "capability"
    qualifiers: Qualifiers = NO_QUALIFIERS
    names: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class NetworkRule(_Serialisable):
    """`network [(access)] [domain] [type|protocol] [conds] [peer=(conds)],` (3.x and 4.x)."""

    KIND = "network"
    qualifiers: Qualifiers = NO_QUALIFIERS
    access: frozenset[str] = frozenset()
    domain: str | None = None
    type: str | None = None
    conds: tuple[Cond, ...] = ()
    peer: tuple[Cond, ...] = ()


@dataclass(frozen=True, slots=True)
class UnixRule(_Serialisable):
    """`unix [(access)] [type= protocol= addr= label= attr= opt=] [peer=(addr= label=)],`."""

    KIND = "unix"
    qualifiers: Qualifiers = NO_QUALIFIERS
    access: frozenset[str] = frozenset()
    conds: tuple[Cond, ...] = ()
    peer: tuple[Cond, ...] = ()


@dataclass(frozen=True, slots=True)
class SignalRule(_Serialisable):
    """`signal [(access)] [set=(signals)] [peer=LABEL],`."""

    KIND = "signal"
    qualifiers: Qualifiers = NO_QUALIFIERS
    access: frozenset[str] = frozenset()
    signals: frozenset[str] = frozenset()
    peer: str | None = None


@dataclass(frozen=True, slots=True)
class PtraceRule(_Serialisable):
    """`ptrace [(access)] [peer=LABEL],`."""

    KIND = "ptrace"
    qualifiers: Qualifiers = NO_QUALIFIERS
    access: frozenset[str] = frozenset()
    peer: str | None = None


@dataclass(frozen=True, slots=True)
class DbusRule(_Serialisable):
    """`dbus [(access)] [bus= path= interface= member= name=] [peer=(name= label=)],`."""

    KIND = "dbus"
    qualifiers: Qualifiers = NO_QUALIFIERS
    access: frozenset[str] = frozenset()
    conds: tuple[Cond, ...] = ()
    peer: tuple[Cond, ...] = ()


@dataclass(frozen=True, slots=True)
class MountRule(_Serialisable):
    """`mount|remount|umount [conds] [SOURCE] [-> MOUNTPOINT],`.

    For `mount` the lone path is the source and `-> x` the mountpoint; for `remount`/`umount`
    the lone path is the mountpoint (kept in `mountpoint`).
    """

    KIND = "mount"
    qualifiers: Qualifiers = NO_QUALIFIERS
    operation: str = "mount"
    conds: tuple[Cond, ...] = ()
    source: str | None = None
    mountpoint: str | None = None


@dataclass(frozen=True, slots=True)
class PivotRootRule(_Serialisable):
    """`pivot_root [oldroot=OLD] [NEWROOT] [-> PROFILE],`."""

    KIND = "pivot_root"
    qualifiers: Qualifiers = NO_QUALIFIERS
    oldroot: str | None = None
    newroot: str | None = None
    target: str | None = None


@dataclass(frozen=True, slots=True)
class ChangeProfileRule(_Serialisable):
    """`change_profile [safe|unsafe] [EXEC] [-> PROFILE],`."""

    KIND = "change_profile"
    qualifiers: Qualifiers = NO_QUALIFIERS
    exec_mode: str | None = None
    exec_path: str | None = None
    target: str | None = None


@dataclass(frozen=True, slots=True)
class RlimitRule(_Serialisable):
    """`set rlimit RESOURCE <= VALUE,` (value as written: `1024`, `10M`, `infinity`)."""

    KIND = "rlimit"
    resource: str
    value: str


@dataclass(frozen=True, slots=True)
class UsernsRule(_Serialisable):
    """`userns [create],` (4.x)."""

    KIND = "userns"
    qualifiers: Qualifiers = NO_QUALIFIERS
    access: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class IoUringRule(_Serialisable):
    """`io_uring [(access)] [label=L],` (4.x)."""

    KIND = "io_uring"
    qualifiers: Qualifiers = NO_QUALIFIERS
    access: frozenset[str] = frozenset()
    conds: tuple[Cond, ...] = ()


@dataclass(frozen=True, slots=True)
class MqueueRule(_Serialisable):
    """`mqueue [(access)] [type=posix|sysv] [label=L] [NAME],` (4.x)."""

    KIND = "mqueue"
    qualifiers: Qualifiers = NO_QUALIFIERS
    access: frozenset[str] = frozenset()
    conds: tuple[Cond, ...] = ()
    name: str | None = None


@dataclass(frozen=True, slots=True)
class AllRule(_Serialisable):
    """`all,` (4.x): every access."""

    KIND = "all"
    qualifiers: Qualifiers = NO_QUALIFIERS


@dataclass(frozen=True, slots=True)
class ChangeHatRule(_Serialisable):
    """`^hat,`: a reference to a hat with no body of its own here."""

    KIND = "hat_ref"
    name: str


@dataclass(frozen=True, slots=True)
class QualifierBlock(_Serialisable):
    """`audit deny { rules }`: the qualifiers apply to every rule inside."""

    KIND = "qualifier_block"
    qualifiers: Qualifiers
    body: tuple[BodyItem, ...] = ()


@dataclass(frozen=True, slots=True)
class Conditional(_Serialisable):
    """`if COND { ... } [else if COND { ... }] [else { ... }]`.

    `condition` is the expression's tokens joined by one space (`not defined $x`);
    an `else if` chain is a Conditional alone in `orelse`.
    """

    KIND = "if"
    condition: str
    body: tuple[BodyItem, ...] = ()
    orelse: tuple[BodyItem, ...] = ()


@dataclass(frozen=True, slots=True)
class Profile(_Serialisable):
    """A profile, child profile or hat.

    `keyword` is "profile", "hat", "^" (a `^name` hat) or "" (a profile named by a path with no
    keyword). `attachment` is the exec attachment glob; `xattrs` the `xattrs=(...)` conditions;
    `flags` as written (`complain`, `attach_disconnected.path=/x`). `body` holds rules, includes,
    comments, qualifier blocks, conditionals and child profiles, in order. `identities` are the
    values of `+ identities=(...)` after the name (AppArmor 6), in order.
    """

    KIND = "profile"
    name: str
    keyword: str = "profile"
    attachment: str | None = None
    xattrs: tuple[Cond, ...] = ()
    flags: frozenset[str] = frozenset()
    body: tuple[BodyItem, ...] = ()
    qualifiers: Qualifiers = NO_QUALIFIERS
    identities: tuple[str, ...] = ()

    def children(self) -> tuple[Profile, ...]:
        """Child profiles and hats directly in this profile (blocks and conditionals included)."""
        return tuple(p for p in _walk(self.body) if isinstance(p, Profile))

    def rules(self) -> tuple[Rule, ...]:
        """This profile's own rules, blocks and conditionals flattened, children left out."""
        return tuple(r for r in _walk(self.body) if isinstance(r, RULE_TYPES))


def _walk(items: tuple[BodyItem, ...]) -> list[BodyItem]:
    out: list[BodyItem] = []
    for item in items:
        if isinstance(item, QualifierBlock):
            out.extend(_walk(item.body))
        elif isinstance(item, Conditional):
            out.extend(_walk(item.body))
            out.extend(_walk(item.orelse))
        else:
            out.append(item)
    return out


@dataclass(frozen=True, slots=True)
class PolicyFile(_Serialisable):
    """A whole file: preamble items and profiles, in order (an abstraction is only rules)."""

    KIND = "policy"
    items: tuple[PolicyItem, ...] = ()
    filename: str = field(default="<text>", compare=False)

    def profiles(self) -> tuple[Profile, ...]:
        """The top-level profiles, in order."""
        return tuple(p for p in self.items if isinstance(p, Profile))


Rule = (
    FileRule | LinkRule | CapabilityRule | NetworkRule | UnixRule | SignalRule | PtraceRule
    | DbusRule | MountRule | PivotRootRule | ChangeProfileRule | RlimitRule | UsernsRule
    | IoUringRule | MqueueRule | AllRule | ChangeHatRule
)  # fmt: skip
RULE_TYPES = (
    FileRule, LinkRule, CapabilityRule, NetworkRule, UnixRule, SignalRule, PtraceRule,
    DbusRule, MountRule, PivotRootRule, ChangeProfileRule, RlimitRule, UsernsRule,
    IoUringRule, MqueueRule, AllRule, ChangeHatRule,
)  # fmt: skip
BodyItem = (
    Rule
    | Abi
    | Comment
    | Include
    | Variable
    | Alias
    | BooleanDef
    | QualifierBlock
    | Conditional
    | Profile
)
PolicyItem = BodyItem
