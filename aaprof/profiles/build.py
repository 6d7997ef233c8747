"""Parse results → the frozen profile model; `parse_policy` is the public entry point."""

from __future__ import annotations

import functools
import re
import sys
import threading
from collections.abc import Callable
from typing import Any

import pyparsing as pp

from aaprof.errors import AaprofError
from aaprof.model import profile as m
from aaprof.profiles import grammar as g
from aaprof.profiles.aare import AARE_META
from aaprof.profiles.perms import file_perms, front_mode

# Characters AppArmor's pattern engine treats as special; a literal one is kept backslash-escaped.
_SIMPLE_ESCAPES = {"a": "\a", "e": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|d([0-9]{1,3})|(.))", re.DOTALL)


def _char(code: int) -> str:
    if code >= 0x80:  # a byte: as `bytes.decode("utf-8", "surrogateescape")` would give it
        return chr(0xDC00 + (code & 0xFF))
    ch = chr(code)
    return "\\" + ch if ch in AARE_META else ch


def _unescape(match: re.Match[str]) -> str:
    octal, hexa, decimal, other = match.groups()
    if octal is not None:
        return _char(int(octal, 8))
    if hexa is not None:
        return _char(int(hexa, 16))
    if decimal is not None:
        return _char(int(decimal))
    if other in AARE_META:
        return "\\" + other
    return _SIMPLE_ESCAPES.get(other, other)


def unquote(token: str) -> str:
    """A name or pattern as written (quoted or not) → its value, AARE escapes kept.

    Lexer escapes are decoded (`\\"`, `\\ `, `\\n`, `\\xNN`, octal `\\NNN`, `\\dNNN`); a character
    the pattern engine treats as special stays escaped (`\\*`, `\\{`, `\\\\`), so `"\\x2a"` and
    `\\*` both give `\\*`. Bytes from 0x80 come back as surrogate escapes.
    """
    if len(token) >= 2 and token[0] == '"' and token[-1] == '"':
        token = token[1:-1]
    return _ESCAPE.sub(_unescape, token) if "\\" in token else token


def _get(res: pp.ParseResults, name: str) -> Any:
    return res[name] if name in res else None  # noqa: SIM401 -- .get is untyped


def _strs(res: pp.ParseResults | str | None) -> tuple[str, ...]:
    if res is None or res == "":
        return ()
    if isinstance(res, str):
        return (unquote(res),)
    return tuple(unquote(str(v)) for v in res)


def _opt(res: pp.ParseResults, name: str) -> str | None:
    value = _get(res, name)
    if value is None or value == "" or isinstance(value, pp.ParseResults):
        return None
    return unquote(str(value))


def _qualifiers(res: pp.ParseResults) -> m.Qualifiers:
    priority = _get(res, "priority")
    access = _get(res, "access")
    return _qualifiers_of(
        bool(_get(res, "audit")),
        str(access) if isinstance(access, str) and access else None,
        bool(_get(res, "owner")),
        int(priority) if isinstance(priority, str) and priority else None,
        bool(_get(res, "other")),
    )


@functools.lru_cache(maxsize=4096)  # frozen and few: one object per combination, not per rule
def _qualifiers_of(
    audit: bool, access: str | None, owner: bool, priority: int | None, other: bool
) -> m.Qualifiers:
    return m.Qualifiers(audit=audit, access=access, owner=owner, priority=priority, other=other)


def _cond(res: pp.ParseResults) -> m.Cond:
    if "bare" in res:
        return m.Cond(unquote(str(res["bare"])), (), "")
    op = str(res["op"])  # "=", ":=" (a network peer label) or "in"
    if "list" in res:
        return m.Cond(res["key"], _strs(res["list"]), op)
    return m.Cond(res["key"], _strs(str(res["value"])), op)


def _conds(res: pp.ParseResults) -> tuple[tuple[m.Cond, ...], tuple[m.Cond, ...]]:
    """The rule's conditions, and the conditions of its `peer=(...)` apart."""
    own: list[m.Cond] = []
    peer: tuple[m.Cond, ...] = ()
    for c in _get(res, "conds") or ():
        if "conds" in c:
            if c["op"] != "=":
                raise ValueError(f"{c['key']}=(...) takes '='")
            inner = tuple(_cond(i) for i in c["conds"])
            if c["key"] == "peer":
                peer = inner
            else:
                own.append(m.Cond(c["key"], tuple(f"{i.key}={','.join(i.values)}" for i in inner)))
        else:
            own.append(_cond(c))
    return tuple(own), peer


def _access(res: pp.ParseResults) -> frozenset[str]:
    return frozenset(_strs(_get(res, "access")))


def _take(conds: tuple[m.Cond, ...], key: str) -> tuple[tuple[str, ...] | None, tuple[m.Cond, ...]]:
    found = [c for c in conds if c.key == key]
    if any(c.op != "=" for c in found):
        raise ValueError(f"{key} takes '=', not 'in'")
    if len(found) > 1 and key == "set":  # several set= add up
        found = [m.Cond(key, tuple(x for c in found for x in c.values))]
    if len(found) > 1:
        raise ValueError(f"{key}= may appear once")
    return (found[0].values if found else None), tuple(c for c in conds if c.key != key)


def _file(q: m.Qualifiers, r: pp.ParseResults) -> m.Rule:
    perms, exec_mode = file_perms(str(_get(r, "perms") or ""))
    if exec_mode and "front" in r:
        exec_mode = front_mode(exec_mode, _opt(r, "exec_safety"))
    return m.FileRule(
        qualifiers=q,
        path=_opt(r, "path"),
        perms=perms,
        exec_mode=exec_mode,
        target=_opt(r, "target"),
        keyword=bool(_get(r, "keyword")),
        exec_safety=_opt(r, "exec_safety"),
    )


from aaprof.profiles.vocab import NETWORK_ACCESS as _NETWORK_ACCESS  # noqa: E402


def _network(q: m.Qualifiers, r: pp.ParseResults) -> m.Rule:
    conds, peer = _conds(r)
    access, domain, kind = _access(r), _opt(r, "domain"), _opt(r, "type")
    if not access and domain in _NETWORK_ACCESS:  # `network accept,`: a bare access word
        access, domain, kind = frozenset({str(domain)}), kind, None
    return m.NetworkRule(q, access, domain, kind, conds, peer)


def _signal(q: m.Qualifiers, r: pp.ParseResults) -> m.Rule:
    conds, _ = _conds(r)
    signals, conds = _take(conds, "set")
    peer, conds = _take(conds, "peer")
    if conds:
        raise ValueError(f"unknown signal condition {conds[0].key!r}")
    return m.SignalRule(q, _access(r), frozenset(signals or ()), peer[0] if peer else None)


def _ptrace(q: m.Qualifiers, r: pp.ParseResults) -> m.Rule:
    conds, _ = _conds(r)
    peer, conds = _take(conds, "peer")
    if conds:
        raise ValueError(f"unknown ptrace condition {conds[0].key!r}")
    return m.PtraceRule(q, _access(r), peer[0] if peer else None)


def _with_peer(cls: type[m.UnixRule] | type[m.DbusRule]) -> Callable[..., m.Rule]:
    def build(q: m.Qualifiers, r: pp.ParseResults) -> m.Rule:
        conds, peer = _conds(r)
        return cls(q, _access(r), conds, peer)

    return build


def _mount(q: m.Qualifiers, r: pp.ParseResults) -> m.Rule:
    operation, source, mountpoint = str(r["operation"]), _opt(r, "source"), _opt(r, "mountpoint")
    if operation != "mount" and mountpoint is None:
        source, mountpoint = None, source
    return m.MountRule(q, operation, _conds(r)[0], source, mountpoint)


def _pivot_root(q: m.Qualifiers, r: pp.ParseResults) -> m.Rule:
    conds, _ = _conds(r)
    old, conds = _take(conds, "oldroot")
    if conds:
        raise ValueError(f"unknown pivot_root condition {conds[0].key!r}")
    return m.PivotRootRule(q, old[0] if old else None, _opt(r, "newroot"), _opt(r, "target"))


_RULES: dict[str, Callable[[m.Qualifiers, pp.ParseResults], m.Rule]] = {
    "file": _file,
    "capability": lambda q, r: m.CapabilityRule(q, frozenset(_strs(_get(r, "names")))),
    "network": _network,
    "unix": _with_peer(m.UnixRule),
    "dbus": _with_peer(m.DbusRule),
    "signal": _signal,
    "ptrace": _ptrace,
    "mount": _mount,
    "pivot_root": _pivot_root,
    "change_profile": lambda q, r: m.ChangeProfileRule(
        q, _opt(r, "exec_mode"), _opt(r, "exec_path"), _opt(r, "target")
    ),
    "userns": lambda q, r: m.UsernsRule(q, _access(r)),
    "io_uring": lambda q, r: m.IoUringRule(q, _access(r), _conds(r)[0]),
    "mqueue": lambda q, r: m.MqueueRule(q, _access(r), _conds(r)[0], _opt(r, "name")),
    "all": lambda q, r: m.AllRule(q),
    "link": lambda q, r: m.LinkRule(q, str(_opt(r, "path")), str(_opt(r, "target")), "subset" in r),
}


def _profile(r: pp.ParseResults, locs: Locations) -> m.Profile:
    keyword = str(_get(r, "keyword") or "")
    name = str(r["name"])
    if keyword.startswith("^"):
        keyword = "^"
    return m.Profile(
        name=unquote(name),
        keyword=keyword,
        attachment=_opt(r, "attachment"),
        xattrs=tuple(_cond(c) for c in _get(r, "xattrs") or ()),
        flags=frozenset(str(f) for f in _get(r, "flags") or ()),
        body=_body(r["body"], locs),
        qualifiers=_qualifiers(r),
        identities=tuple(x for group in _get(r, "identities") or () for x in _strs(group)),
    )


def _conditional(r: pp.ParseResults, locs: Locations) -> m.Conditional:
    orelse: tuple[m.BodyItem, ...] = ()
    if "elif" in r:
        orelse = (_conditional(r["elif"], locs),)
    elif "orelse" in r:
        orelse = _body(r["orelse"], locs)
    return m.Conditional(" ".join(r["condition"]), _body(r["body"], locs), orelse)


class LocatedError(ValueError):
    """A semantic error found while building, at an offset into the text."""

    def __init__(self, loc: int, reason: str) -> None:
        super().__init__(reason)
        self.loc = loc
        self.reason = reason


# id(model item) → offset of its first character in the text (kept with the items alive)
Locations = dict[int, int]


def _item(r: pp.ParseResults, locs: Locations) -> m.PolicyItem:
    loc = int(r["loc"]) if "loc" in r else 0
    built = r[0] if len(r) else None
    if isinstance(built, ValueError):  # grammar.fast_file's, raised in order as any other
        raise LocatedError(loc, str(built))
    try:
        item = built if isinstance(built, m.FileRule) else _make(r, locs)
    except LocatedError:
        raise
    except ValueError as exc:
        raise LocatedError(loc, str(exc)) from None
    locs[id(item)] = loc
    return item


def _make(r: pp.ParseResults, locs: Locations) -> m.PolicyItem:
    kind = r["kind"]
    if kind == "rule":
        q = _qualifiers(r)
        if "block" in r:
            return m.QualifierBlock(q, _body(r["block"], locs))
        rule = r["rule"]
        return _RULES[rule["kind"]](q, rule)
    simple: dict[str, Callable[[], m.PolicyItem]] = {
        "comment": lambda: m.Comment(str(r["text"])[1:].rstrip("\r")),
        "abi": lambda: _abi(str(r["path"])),
        "include": lambda: m.Include(
            unquote(str(r["path"]).strip("<>")), str(r["path"])[0] == "<", "if_exists" in r
        ),
        "variable": lambda: _variable(r),
        "boolean": lambda: m.BooleanDef(r["name"], r["value"].lower() == "true", r["op"]),
        "alias": lambda: m.Alias(str(_opt(r, "original")), str(_opt(r, "replacement"))),
        "rlimit": lambda: m.RlimitRule(r["resource"], r["value"]),
        "hat_ref": lambda: m.ChangeHatRule(unquote(r["name"])),
        "profile": lambda: _profile(r, locs),
        "if": lambda: _conditional(r, locs),
    }
    return simple[kind]()


def _abi(raw: str) -> m.Abi:
    inner = raw[1:-1] if raw.startswith("<") else raw
    if '"' not in inner:  # `< abi/4.0 >`: spaces around a bare path are dropped
        inner = inner.strip()
    path = unquote(inner)
    if not path or inner != inner.strip() or '"' in path:
        raise ValueError(f"invalid abi path {raw!r}")
    return m.Abi(path, raw.startswith("<"))


def _variable(r: pp.ParseResults) -> m.Variable:
    for raw in r["values"]:
        if not str(raw).startswith('"') and (str(raw).endswith(",") or "!" in str(raw)):
            raise ValueError(f"invalid value {str(raw)!r} for @{{{r['name']}}} (quote it)")
    return m.Variable(r["name"], _strs(r["values"]), r["op"])


def _body(res: pp.ParseResults, locs: Locations) -> tuple[m.BodyItem, ...]:
    return tuple(_item(r, locs) for r in res)


def _fast_file(tokens: pp.ParseResults) -> list[m.Rule | ValueError]:
    """grammar.fast_file's match made into its FileRule at once, the same one `qualified` gives
    there: a large profile then never holds the parse tree of its plain rules (2.4 KB a rule).
    A bad rule's ValueError is kept, for `_item` to raise where the build reaches it."""
    try:
        return [_file(_qualifiers(tokens), tokens)]
    except ValueError as exc:
        return [exc]


g.fast_file.add_parse_action(_fast_file)


class PolicySyntaxError(AaprofError):
    """A policy that does not parse, at `line`:`col` (1-based) of `filename`, for `reason`."""

    def __init__(self, filename: str, line: int, col: int, reason: str) -> None:
        super().__init__(f"{filename}:{line}:{col}: {reason}")
        self.filename, self.line, self.col, self.reason = filename, line, col, reason


MAX_NESTING = 200  # blocks, conditionals and parentheses inside each other
_FRAMES_PER_LEVEL = 40  # Python frames pyparsing spends on one level of nesting (with slack)
_NESTING_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|#[^\n]*|\\.|[{}()]')
_recursion_lock = threading.Lock()


def _nesting(text: str) -> tuple[int, int]:
    """The deepest nesting of braces and parentheses (outside quotes and comments), and where
    it is reached (where it first passes MAX_NESTING when it does)."""
    depth = deepest = where = 0
    for match in _NESTING_TOKENS.finditer(text):
        ch = match.group()
        if ch in "{(":
            depth += 1
            if depth > deepest:  # where it first gets too deep, or else where deepest
                deepest = depth
                where = match.start() if deepest <= MAX_NESTING + 1 else where
        elif ch in "})":
            depth = max(depth - 1, 0)
    return deepest, where


def _parse_results(text: str, filename: str) -> pp.ParseResults:
    deepest, where = _nesting(text)
    if deepest > MAX_NESTING:
        line, col = pp.lineno(where, text), pp.col(where, text)
        raise PolicySyntaxError(filename, line, col, f"nested deeper than {MAX_NESTING} levels")
    needed = sys.getrecursionlimit()
    if deepest > 16:  # pyparsing recurses per level: make room, then put the limit back
        needed = max(needed, 1000 + deepest * _FRAMES_PER_LEVEL)
    with _recursion_lock:
        before = sys.getrecursionlimit()
        sys.setrecursionlimit(max(before, needed))
        try:
            return g.policy_file.parse_string(text, parse_all=True)
        except RecursionError:
            raise PolicySyntaxError(filename, 1, 1, "nested too deeply to parse") from None
        finally:
            sys.setrecursionlimit(before)


def parse_located(text: str, *, filename: str = "<text>") -> tuple[m.PolicyFile, Locations]:
    """`parse_policy`, plus where each item starts: {id(item): offset into `text`}.

    Raises:
        PolicySyntaxError: the text is not valid policy (line, column and a one-line reason).
    """
    try:
        results = _parse_results(text, filename)
    except pp.ParseBaseException as exc:
        found = exc.line[exc.col - 1 : exc.col + 19].rstrip() if exc.line else ""
        msg = exc.msg[0].lower() + exc.msg[1:] if exc.msg else "invalid syntax"
        where = f", found {found!r}" if found else ", found end of file"
        raise PolicySyntaxError(filename, exc.lineno, exc.col, msg + where) from None
    locs: Locations = {}
    try:
        items = tuple(_item(r, locs) for r in results)
    except LocatedError as exc:
        line, col = pp.lineno(exc.loc, text), pp.col(exc.loc, text)
        raise PolicySyntaxError(filename, line, col, exc.reason) from None
    return m.PolicyFile(items, filename=filename), locs


def parse_policy(text: str, *, filename: str = "<text>") -> m.PolicyFile:
    """Parse one AppArmor policy file (profiles, or an abstraction's bare rules).

    Args:
        text: the file's text; undecodable bytes as surrogate escapes.
        filename: named in error messages.

    Returns:
        The file's preamble items and profiles, in order.

    Raises:
        AaprofError: "file:line:col: reason" when the text is not valid policy (a
            PolicySyntaxError, which also carries the line, column and reason apart).
    """
    return parse_located(text, filename=filename)[0]
