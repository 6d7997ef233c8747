"""Counting a chunk's records in bulk: one regex pass, counted per distinct head in C.

The summary's fields of a record (mode, operation, class, profile, name) stand in its *head*,
the bytes from `apparmor="` to the first ` pid=`. `HEAD.findall` gives the head of every
stamped record of a chunk and `collections.Counter.update` counts them, both in C: no Python
code runs per record, only per distinct head (`classify`, once, cached by the caller).

A head is counted this way only where the full parser would read exactly its fields from it:
- the regex takes a record only if the rest of its line holds no `name=` or `class=` that
  could be a key (any one not preceded by a letter, digit or `_`, so more than the full parser
  reads as keys: those records go the per-record way);
- `classify` checks that ` pid=` ends the head's last token (no quoted value runs across it),
  that no bare value could be cut by the full parser's lost-separator rule, and decodes the
  fields with the full parser's own tokens and decoding, first value winning;
- a head whose class depends on the rest of the line (no `class=`, an operation such as
  `connect` whose class is `net` or `file` by its fields, no `family=` in the head) is
  AMBIGUOUS: the regex gives the head of a record whose rest of the line has a socket family
  with ` pid=` kept at its end (`head_family`), so the counts tell the two kinds apart without
  a second pass, and the caller keys them by that (`ambiguous_key`).
"""

from __future__ import annotations

import re
from typing import Final

from aaprof.logs.record import class_of_operation, decode_value, tokens

HeadFields = tuple[str, str, str | None, str, str | None]  # mode, operation, class, profile, name

_STAMP: Final = rb"[0-9]{1,11}\.[0-9]+:[0-9]+\): "
# Before the stamp is read digit by digit: the `): apparmor="` it must end in, found by a
# faster walk to the first `)`. Most `audit(` lines hold no record (6 in 10 lines of a noisy
# kern.log). (The walk may run past the line's end, but no stamp holds a newline; a stamp
# longer than the walk is not counted in bulk: the count of `apparmor=` tells.)
_RECORD_AHEAD: Final = rb'(?=[^)]{1,48}\): apparmor=")'
# The head: from `apparmor="` to the first ` pid=` (space-separated pieces, no lazy repeat:
# Python's regex engine tries the rest of the pattern at every byte of a lazy one).
_HEAD: Final = rb'(?>(apparmor="[^ \n]*(?: (?!pid=)[^ \n]*)*) pid=)'
# No key of the rest of the line is `name=` or `class=`: none after anything but a letter,
# a digit or `_` (the full parser reads a key after a space, a quote or a control character).
_NO_KEY_AFTER: Final = (
    rb"(?![^\n]*name=(?<![A-Za-z0-9_]name=))(?![^\n]*class=(?<![A-Za-z0-9_]class=))"
)
# The same head, with its ` pid=` kept where the rest of the line has a socket family (what
# the full parser derives the class of an AMBIGUOUS head's record from): one more walk of the
# rest of each record's line, where a second regex pass over the chunk cost 1.3 (dense log)
# to 4 times (noisy log) that.
_HEAD_FAMILY: Final = (
    rb'(?>(apparmor="[^ \n]*(?: (?!pid=)[^ \n]*)*(?: pid=(?=[^\n]* (?:family|sock_type)=))?)'
    rb"(?:(?<= pid=)| pid=))"
)
# The auditd lines that follow (SYSCALL, PROCTITLE, ...: any type but AVC): taken along with the
# line before, so that they cost no match of their own. (A record among them is not counted:
# the caller's count of `apparmor=` tells, and the chunk is read the slow way.)
_COMPANIONS: Final = rb"(?:\n(?:node=[^ \n]* )?type=(?!AVC )[^\n]*)*"
# From each `audit(`: a stamped record's head (group 1), its line consumed; or, where the first
# `audit(` of a line starts no countable record, the rest of that line (group 1 empty), so that
# a later stamp in the same line is never taken (the full parser reads a line's first stamp).
HEAD: Final = re.compile(
    rb"audit\((?:"
    + _RECORD_AHEAD
    + _STAMP
    + _HEAD_FAMILY
    + _NO_KEY_AFTER
    + rb"[^\n]*"
    + _COMPANIONS
    + rb"|[^\n]*"
    + _COMPANIONS
    + rb")"
)
# (A head never holds ` pid=`: it ends before the first one.)
FAMILY_MARK: Final = b" pid="


# A D-Bus record that dbus-daemon wrote in one line (USER_AVC in audit.log, type=1107 in
# kern.log): its stamp (the line's first), the head inside `msg='`, the `label=` right after
# ` pid=N` (the profile: the record has no profile=), and no later profile=, class= or name=
# key; the line holds the closing quote (a record split over two lines is joined elsewhere).
DBUS: Final = re.compile(
    rb"type=(?:USER_AVC msg=|1107 )audit\("
    + _STAMP
    + rb"[^'\n]*msg='"
    + _HEAD
    + rb"\d+ (label=(?:\"[^\"\n]*\"|[^\s\"']+))"
    rb"(?![^\n]*profile=(?<![A-Za-z0-9_]profile=))" + _NO_KEY_AFTER + rb"[^\n]*'"
)


class _Verdict:
    """A head that is not counted in bulk, and why (a singleton per reason)."""

    def __init__(self, why: str) -> None:
        self.why = why

    def __repr__(self) -> str:
        return f"<{self.why}>"


PARSE: Final = _Verdict("the per-record path decides")
AMBIGUOUS: Final = _Verdict("class from the rest of the line")
Verdict = HeadFields | _Verdict


def head_family(found: bytes) -> tuple[bytes, bool]:
    """A head as HEAD gives it: the head, and whether the rest of its line has a socket family."""
    if found.endswith(FAMILY_MARK):
        return found[: -len(FAMILY_MARK)], True
    return found, False


# The fields of a head's part before its ` name=`, by that part: heads that differ only by
# their name (temp files, /proc/<pid> paths) tokenise the rest of the head once.
_PREFIXES: dict[bytes, tuple[HeadFields, bool] | _Verdict] = {}  # (fields, ambiguous)
PREFIXES_KEPT: Final = 4096
# The verdicts of whole heads that have no name to share a prefix by (`capable`, `signal`,
# sockets: a few per profile and operation), by head and whether AMBIGUOUS is allowed. The
# caller forgets its verdicts when names never repeat; these are not tokenised again then.
_WHOLE: dict[tuple[bytes, bool], Verdict] = {}
WHOLE_KEPT: Final = 8192


def classify(head: bytes) -> Verdict:
    """The summary fields of records with this head (as HEAD gives it: the family mark is
    left out), or why they are not counted in bulk."""
    if head[-5:] == FAMILY_MARK:  # (head_family, inlined: once per distinct head)
        head = head[:-5]
    return _fields(head, False)


def ambiguous_fields(head: bytes) -> HeadFields:
    """The fields of an AMBIGUOUS head (its class None: the caller derives it)."""
    fields = _fields(head, True)
    assert not isinstance(fields, _Verdict)
    return fields


def _fields(head: bytes, ambiguous_ok: bool) -> Verdict:
    at = head.find(b" name=")
    if at > 0 and not head.count(b'"', 0, at) & 1:
        raw = head[at + 6 :]
        quoted = raw[:1] == b'"' and raw.find(b'"', 1) == len(raw) - 1 and b"\x1d" not in raw
        if quoted or _one_value(raw):
            prefix = head[:at]
            base = _PREFIXES.get(prefix)
            if base is None:
                if len(_PREFIXES) >= PREFIXES_KEPT:
                    _PREFIXES.clear()
                base = _PREFIXES[prefix] = _classify_prefix(prefix)
            if isinstance(base, _Verdict):
                return base
            fields, is_ambiguous = base
            if is_ambiguous and not ambiguous_ok:
                return AMBIGUOUS
            if quoted:  # (decode_value of a quoted value: what stands between the quotes)
                name = raw[1:-1].decode("utf-8", "surrogateescape")
            else:
                name = decode_value("name", raw.decode("utf-8", "surrogateescape"))
            return fields[0], fields[1], fields[2], fields[3], name
    verdict = _WHOLE.get((head, ambiguous_ok))
    if verdict is None:
        if len(_WHOLE) >= WHOLE_KEPT:
            _WHOLE.clear()
        text = head.decode("utf-8", "surrogateescape")
        verdict = _WHOLE[head, ambiguous_ok] = _classify_text(text, ambiguous_ok=ambiguous_ok)
    return verdict


def _one_value(raw: bytes) -> bool:
    """Whether a head's text after ` name=` is one bare value that the full parser reads as it
    is (a quoted one is `_fields`' first case; no quote passes here)."""
    return (
        raw.isascii()
        and len(raw.split()) == 1
        and not any(c in raw for c in (b'"', b"'", b"=", b"^]", b"\x1c", b"\x1d", b"\x1e", b"\x1f"))
    )


def _classify_prefix(prefix: bytes) -> tuple[HeadFields, bool] | _Verdict:
    """`_classify_text` of a head's part before ` name=` (the name left out), and whether
    its class depends on the rest of the line."""
    text = prefix.decode("utf-8", "surrogateescape") + ' name=""'
    verdict = _classify_text(text, ambiguous_ok=True)
    if isinstance(verdict, _Verdict):
        return verdict
    fields: HeadFields = (verdict[0], verdict[1], verdict[2], verdict[3], None)
    return fields, fields[2] is None  # (a class is None only where it was AMBIGUOUS)


def dbus_fields(head: bytes, label: bytes) -> Verdict:
    """The fields of a DBUS match: its head's, with the label as the profile."""
    text = head.decode("utf-8", "surrogateescape")
    if any(key in {"profile", "label"} for key, _ in tokens(text)):
        return PARSE
    verdict = _classify_text(text + " profile=" + label[6:].decode("utf-8", "surrogateescape"))
    return PARSE if verdict is AMBIGUOUS else verdict


def _classify_text(head: str, *, ambiguous_ok: bool = False) -> Verdict:
    pairs = tokens(head)
    closed = tokens(head + " pid=")
    if len(closed) != len(pairs) + 1 or closed[-1] != ("pid", "") or closed[:-1] != pairs:
        return PARSE  # a value runs across ` pid=`: the head is not whole tokens
    first: dict[str, str] = {}
    for key, raw in pairs:
        if raw[:1] not in {'"', "'"} and ("=" in raw or "^]" in raw):
            return PARSE  # the full parser may cut this bare value (lost ENRICHED separators)
        first.setdefault(key, raw)
    if "operation" not in first or "profile" not in first or "apparmor" not in first:
        return PARSE  # (label= for the profile, and other rare layouts)
    mode = decode_value("apparmor", first["apparmor"]).upper()
    if not mode:
        return PARSE  # the full parser reads no mode: an unparsed line
    operation = decode_value("operation", first["operation"])
    profile = decode_value("profile", first["profile"])
    name = decode_value("name", first["name"]) if "name" in first else None
    if "class" in first:
        class_: str | None = decode_value("class", first["class"])
    else:
        class_ = class_of_operation(operation)
        if class_ is None:
            if "family" in first or "sock_type" in first:
                class_ = "net"
            elif not ambiguous_ok:
                return AMBIGUOUS
    return mode, operation, class_, profile, name


def ambiguous_key(found: bytes) -> tuple[bytes, bool, bool] | None:
    """The key of the records of an AMBIGUOUS head as HEAD gives it: the head, whether the
    record has a socket family, and a mask (what the full parser derives the class from);
    None where the class depends on a mask after the head (no name, no family: rare)."""
    head, family = head_family(found)
    if not family and b" name=" not in head:
        return None
    mask = b"mask=" in head or b" requested=" in head or b" denied=" in head
    return head, family, mask
