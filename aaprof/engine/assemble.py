"""Rules → a self-contained profile file, merged into an existing one without dropping anything."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence

from aaprof.engine.options import Item
from aaprof.errors import AaprofError
from aaprof.model import profile as m
from aaprof.profiles import abi
from aaprof.profiles.render import render_rule

TUNABLES = m.Include("tunables/global")
# Containers start in a mount namespace whose paths AppArmor cannot connect to the root
# (attach_disconnected), and deleted-but-open files must still be mediated (mediate_deleted).
BASE_FLAGS = frozenset({"attach_disconnected", "mediate_deleted"})
MODES = ("complain", "enforce")
HEADER_MARK = "aaprof"  # leading comments starting with this are the generated header
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SAFE_FILE = re.compile(r"[A-Za-z0-9_.+@=-]")
MAX_FILENAME = 255


def assemble(
    name: str,
    rules: Sequence[Item],
    *,
    mode: str = "complain",
    existing: m.PolicyFile | None = None,
    header: Sequence[str] = (),
    children: Mapping[str, Sequence[Item]] | None = None,
) -> m.PolicyFile:
    """The policy file for profile `name` holding `rules`.

    New: `abi <abi/3.0>,` (or the newest abi, `profiles.abi.NEWEST`, when a rule needs it:
    userns, mqueue, io_uring, all, priority=, a fine network rule), `include
    <tunables/global>`, then `profile NAME flags=(attach_disconnected,mediate_deleted[,complain])
    { rules }`, under `header` comments. With `existing`: every existing item is kept
    (hand-written rules, comments, includes, children); only rules whose canonical text is not
    already in the profile are appended; the `complain` flag follows `mode`; a leading
    generated header is replaced by `header`; the file's abi pin is raised (or added) when the
    merged profile needs a newer one than it pins.

    Args:
        name: The profile's name (quoted safely by the renderer).
        rules: Rules and includes to put in the profile.
        mode: `complain` or `enforce`.
        existing: The file previously written for this profile.
        header: Comment lines; each should start with "aaprof" so a rerun can replace it.
        children: Rules for hats and child profiles by child name (`parent//child`'s child).

    Raises:
        AaprofError: an unknown mode, an empty name, or `existing` has no profile `name`.
    """
    if mode not in MODES:
        raise AaprofError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if not name:
        raise AaprofError("a profile needs a name")
    comments = tuple(m.Comment(" " + _CONTROL.sub("?", line)) for line in header)
    if existing is None:
        profile = m.Profile(name, "profile", flags=_flags(BASE_FLAGS, mode))
        items: tuple[m.PolicyItem, ...] = (*comments, m.Abi(abi.BASE), TUNABLES, profile)
    else:
        items = _with_header(existing.items, comments)
        if not any(isinstance(p, m.Profile) and p.name == name for p in items):
            raise AaprofError(f"{existing.filename}: no profile {name!r} to merge into")
    out: list[m.PolicyItem] = []
    for item in items:
        if isinstance(item, m.Profile) and item.name == name:
            merged = _merged(item, rules, children or {})
            out.append(dataclasses.replace(merged, flags=_flags(merged.flags, mode)))
        else:
            out.append(item)
    filename = existing.filename if existing is not None else "<generated>"
    return m.PolicyFile(_pinned(tuple(out)), filename=filename)


def _pinned(items: tuple[m.PolicyItem, ...]) -> tuple[m.PolicyItem, ...]:
    """`items` with their abi pin raised to what their rules need (the first pin replaced, or
    one added before the first include or profile); a file that needs no more than abi/3.0
    keeps its pin, or its lack of one."""
    need = abi.needed(items)
    if need == abi.BASE:
        return items
    at = next((i for i, item in enumerate(items) if isinstance(item, m.Abi)), None)
    if at is not None:
        have = items[at]
        assert isinstance(have, m.Abi)
        if abi.rank(have.path) >= abi.rank(need):
            return items
        return (*items[:at], m.Abi(need), *items[at + 1 :])
    start = next((i for i, item in enumerate(items) if not isinstance(item, m.Comment)), 0)
    return (*items[:start], m.Abi(need), *items[start:])


def _flags(flags: frozenset[str], mode: str) -> frozenset[str]:
    flags = flags - {"complain", "enforce"}
    return flags | {"complain"} if mode == "complain" else flags


def _with_header(
    items: tuple[m.PolicyItem, ...], comments: tuple[m.Comment, ...]
) -> tuple[m.PolicyItem, ...]:
    if not comments:
        return items
    start = 0
    while (
        start < len(items)
        and isinstance(items[start], m.Comment)
        and items[start].text.strip().startswith(HEADER_MARK)  # type: ignore[union-attr]
    ):
        start += 1
    return (*comments, *items[start:])


def _texts(items: Iterable[m.BodyItem]) -> set[str]:
    out = set()
    for item in items:
        if isinstance(item, m.QualifierBlock):
            out |= _texts(item.body)
        elif isinstance(item, m.Include):
            out.add(f"include <{item.path}>" if item.magic else f"include {item.path}")
        elif isinstance(item, m.RULE_TYPES):
            out.add(render_rule(item))
    return out


def _merged(
    profile: m.Profile, rules: Sequence[Item], children: Mapping[str, Sequence[Item]]
) -> m.Profile:
    from aaprof.profiles.compare import covered

    body = list(profile.body)
    have = _texts(body)
    added: list[m.FileRule] = []
    for rule in rules:
        text = _texts([rule]).pop()
        if text not in have:
            body.append(rule)
            have.add(text)
            if isinstance(rule, m.FileRule):
                added.append(rule)
    if added:
        # an exact rule an added glob covers goes (an earlier batch's name of a family now
        # learnt whole): what one run over every batch would have written
        old = len(profile.body)
        body = [
            item
            for n, item in enumerate(body)
            if n >= old or not (isinstance(item, m.FileRule) and covered(item, added))
        ]
    for child_name, child_rules in sorted(children.items()):
        index = next(
            (i for i, c in enumerate(body) if isinstance(c, m.Profile) and c.name == child_name),
            None,
        )
        if index is None:
            body.append(_merged(m.Profile(child_name, "^"), child_rules, {}))
        else:
            child = body[index]
            assert isinstance(child, m.Profile)
            body[index] = _merged(child, child_rules, {})
    return dataclasses.replace(profile, body=tuple(body))


def profile_filename(name: str) -> str:
    """A safe file name for a profile in `DIR/profiles/`: `/usr/bin/foo` → `usr.bin.foo`.

    Slashes become dots (after the leading one is dropped); any other character outside
    `[A-Za-z0-9_.+@=-]` becomes `%XX` of its UTF-8 bytes, and so does `%` itself; a leading dot
    is encoded, so the result is never `.`, `..` or hidden, and never holds a `/`.

    Raises:
        AaprofError: an empty name, or a file name over 255 bytes.
    """
    if not name:
        raise AaprofError("a profile needs a name")
    flat = name.lstrip("/").replace("/", ".") or "root"
    out = []
    for i, ch in enumerate(flat):
        if _SAFE_FILE.fullmatch(ch) and not (i == 0 and ch == "."):
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "surrogateescape"))
    result = "".join(out)
    if len(result.encode()) > MAX_FILENAME:
        raise AaprofError(f"profile name {name!r} makes a file name over {MAX_FILENAME} bytes")
    return result
