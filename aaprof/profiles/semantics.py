"""What a rule or profile header may not say though it parses: one reason per mistake.

Each function returns the reasons (one line each, no location); `check.py` places them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from aaprof.model import profile as m
from aaprof.profiles import vocab as v

_VAR = re.compile(r"@\{[^}]*\}")
_FILE_LIKE = (m.FileRule, m.LinkRule)


def aare_problem(pattern: str) -> str | None:
    """Why `pattern` is not a valid AppArmor pattern (braces, classes), or None."""
    text = _VAR.sub("x", pattern)
    depth: list[int] = []  # entries seen in each open `{`
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            end = _class_end(text, i)
            if end is None:
                return f"unbalanced '[' in {pattern!r}"
            if end == i + 1 or (end == i + 2 and text[i + 1] == "^"):
                return f"empty character class in {pattern!r}"
            i = end + 1
            continue
        if ch == "]":
            return f"unbalanced ']' in {pattern!r}"
        if ch == "{":
            depth.append(1)
        elif ch == "," and depth:
            depth[-1] += 1
        elif ch == "}":
            if not depth:
                return f"unbalanced '}}' in {pattern!r}"
            if text[i - 1] == "{":
                return f"empty alternation '{{}}' in {pattern!r}"
            if depth.pop() < 2:
                return f"alternation with one entry in {pattern!r} (write it without braces)"
        i += 1
    if depth:
        return f"unbalanced '{{' in {pattern!r}"
    return None


def _class_end(text: str, start: int) -> int | None:
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "]":
            return i
        i += 1
    return None


def _patterns(rule: m.Rule) -> Iterator[str]:
    """The AARE-valued fields of a rule."""
    for name in ("path", "target", "source", "mountpoint", "newroot", "exec_path", "name"):
        value = getattr(rule, name, None)
        if isinstance(value, str):
            yield value
    for cond in (*getattr(rule, "conds", ()), *_peer_conds(rule)):
        if cond.key not in ("ip", "port", "options", "option"):
            yield from cond.values
    peer = getattr(rule, "peer", None)
    if isinstance(peer, str):
        yield peer


def _peer_conds(rule: m.Rule) -> tuple[m.Cond, ...]:
    peer = getattr(rule, "peer", ())
    return peer if isinstance(peer, tuple) else ()


def _as_is(text: str) -> tuple[str, ...]:
    return (text,)


def rule_problems(rule: m.Rule, expand: Callable[[str], tuple[str, ...]] = _as_is) -> list[str]:
    """Every reason `rule` is invalid (empty when it is fine).

    `expand` gives what a pattern stands for once its variables are replaced: patterns are
    checked after expansion, as a variable may hold part of an alternation.
    """
    out: list[str] = []
    q = getattr(rule, "qualifiers", m.NO_QUALIFIERS)
    if (q.owner or q.other) and not isinstance(rule, _FILE_LIKE):
        word = "owner" if q.owner else "other"
        out.append(f"'{word}' applies to file rules only, not to a {rule.KIND} rule")
    if q.priority is not None and not -1000 <= q.priority <= 1000:
        out.append(f"priority {q.priority} is out of range (-1000 to 1000)")
    problem = next(
        (p for raw in _patterns(rule) for x in expand(raw) if (p := aare_problem(x))), None
    )
    if problem:
        out.append(problem)
    check = _CHECKS.get(type(rule))
    if check is not None:
        out.extend(check(rule))
    return out


def _unknown(kind: str, words: Iterable[str], known: frozenset[str]) -> list[str]:
    bad = sorted(w for w in words if w not in known and not w.startswith("@{"))
    return [f"unknown {kind} {', '.join(map(repr, bad))}"] if bad else []


def _file(r: m.FileRule) -> list[str]:
    out = []
    if {"w", "a"} <= r.perms:
        out.append("'w' and 'a' conflict: w already allows appending")
    if r.exec_mode == "x" and not r.qualifiers.deny:
        out.append("bare 'x' needs an exec mode (ix, px, Px, cx, Cx, ux, Ux, pix ...)")
    if r.target is not None and r.exec_mode is None and r.perms and "l" not in r.perms:
        out.append("'->' needs an exec permission (px, cx ...) or 'l' (a link)")
    if r.path is not None and not r.path.startswith(("/", "@{", "{")):
        out.append(f"a file path must start with '/' or a variable: {r.path!r}")
    elif r.path is not None and not r.perms and not r.exec_mode:
        out.append(f"no permissions for {r.path!r}")
    if r.exec_mode and r.qualifiers.deny and r.exec_mode != "x":
        out.append(f"deny rules take a bare 'x', not an exec mode ({r.exec_mode})")
    return out


def _capability(r: m.CapabilityRule) -> list[str]:
    return _unknown("capability", r.names, v.CAPABILITIES)


def _conds(kind: str, conds: tuple[m.Cond, ...], known: frozenset[str], peer: bool) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    where = "peer=(...)" if peer else f"{kind} rule"
    for c in conds:
        if c.key not in known:
            out.append(f"unknown condition {c.key!r} in a {where}")
        elif c.key in seen and kind != "mount":
            out.append(f"condition {c.key!r} given twice in a {where}")
        elif c.op == "in" and kind != "mount":
            out.append(f"{c.key!r} takes '=', not 'in', in a {where}")
        elif c.op == ":=" and not (kind == "network" and peer and c.key == "label"):
            out.append(f"{c.key!r} takes '=', not ':=', in a {where} (only a network peer label)")
        elif kind in ("unix", "dbus", "network") and len(c.values) != 1:
            out.append(f"{c.key!r} takes one value in a {where}")
        elif any(not x for x in c.values):
            out.append(f"{c.key}= needs a value")
        seen.add(c.key)
    return out


def _peer_allowed(kind: str, access: frozenset[str], peer: object) -> list[str]:
    if peer and access and access <= v.LOCAL_SOCKET_ACCESS:
        return [f"{kind} {', '.join(sorted(access))} acts on the socket itself: no peer=(...)"]
    return []


def _port(text: str) -> str | None:
    lo, _, hi = text.partition("-")
    if not lo.isdigit() or (hi and not hi.isdigit()):
        return f"invalid port {text!r}"
    if int(lo) > 65535 or (hi and int(hi) > 65535):
        return f"port {text!r} is out of range (0-65535)"
    if hi and int(hi) < int(lo):
        return f"port range {text!r} runs backwards"
    return None


def _ip(text: str) -> str | None:
    if text in ("none", "any"):
        return None
    try:
        if "/" in text:
            ipaddress.ip_network(text, strict=False)
            return None
        lo, sep, hi = text.partition("-")
        first = ipaddress.ip_address(lo)
        if sep:
            last = ipaddress.ip_address(hi)
            if first.version != last.version:
                return f"ip range {text!r} mixes IPv4 and IPv6"
            if int(last) < int(first):
                return f"ip range {text!r} runs backwards"
    except ValueError:
        return f"invalid ip address {text!r}"
    return None


def _network(r: m.NetworkRule) -> list[str]:
    out = _unknown("network access", r.access, v.NETWORK_ACCESS)
    if r.domain and r.domain not in v.NETWORK_DOMAINS | v.NETWORK_TYPES | v.NETWORK_PROTOCOLS:
        out.append(f"unknown network family {r.domain!r}")
    if r.type and r.type not in v.NETWORK_TYPES | v.NETWORK_PROTOCOLS:
        out.append(f"unknown network type or protocol {r.type!r}")
    out += _conds("network", r.conds, v.RULE_CONDS["network"], False)
    out += _conds("network", r.peer, v.PEER_CONDS["network"], True)
    inet = any(c.key in ("ip", "port") for c in (*r.conds, *r.peer))
    if inet and r.domain in v.NETWORK_DOMAINS - v.INET_DOMAINS:
        out.append(f"ip= and port= need the inet or inet6 family, not {r.domain}")
    for c in (*r.conds, *r.peer):
        for value in c.values:
            problem = _ip(value) if c.key == "ip" else _port(value) if c.key == "port" else None
            if problem:
                out.append(problem)
    return out + _peer_allowed("network", r.access, r.peer)


def _unix(r: m.UnixRule) -> list[str]:
    out = _unknown("unix access", r.access, v.UNIX_ACCESS)
    out += _conds("unix", r.conds, v.RULE_CONDS["unix"], False)
    out += _conds("unix", r.peer, v.PEER_CONDS["unix"], True)
    if r.access and r.access <= {"bind"} and any(c.key == "label" for c in r.conds):
        out.append("unix bind names the socket's own address, not a label=")
    return out + _peer_allowed("unix", r.access, r.peer)


def _dbus(r: m.DbusRule) -> list[str]:
    out = _unknown("dbus access", r.access, v.DBUS_ACCESS)
    out += _conds("dbus", r.conds, v.RULE_CONDS["dbus"], False)
    out += _conds("dbus", r.peer, v.PEER_CONDS["dbus"], True)
    keys = {c.key for c in r.conds}
    if r.access == {"bind"} and keys - {"bus", "name"}:
        out.append("dbus bind takes only bus= and name=")
    if r.access == {"eavesdrop"} and (keys - {"bus"} or r.peer):
        out.append("dbus eavesdrop takes only bus=")
    return out


def _signal(r: m.SignalRule) -> list[str]:
    out = _unknown("signal access", r.access, v.SIGNAL_ACCESS)
    named = {re.sub(r"^rtmin\+0*(?=\d)", "rtmin+", x) for x in r.signals}
    return out + _unknown("signal", named, v.SIGNALS)


def _ptrace(r: m.PtraceRule) -> list[str]:
    return _unknown("ptrace access", r.access, v.PTRACE_ACCESS)


def _mount(r: m.MountRule) -> list[str]:
    out = _conds("mount", r.conds, v.RULE_CONDS["mount"], False)
    options: set[str] = set()
    for c in r.conds:
        for value in c.values:
            if re.search(r",(?![^{]*\})", value):
                out.append(f"{c.key} {c.op} {value}: a list of values needs parentheses")
        if c.key not in ("options", "option"):
            continue
        options.update(c.values)
        for a, b in v.MOUNT_CONFLICTS:  # `in (a, b)` and a second options= are alternatives
            if c.op == "=" and a in c.values and b in c.values:
                out.append(f"mount options {a} and {b} conflict")
    out += _unknown("mount option", (o for o in options if "," not in o), v.MOUNT_OPTIONS)
    special = options & (v.MOUNT_PROPAGATION | {"remount"})
    if special and r.operation == "mount" and None not in (r.source, r.mountpoint):
        out.append(f"mount options=({', '.join(sorted(special))}) take no source")
    return out


def _rlimit(r: m.RlimitRule) -> list[str]:
    if r.resource not in v.RLIMITS:
        return [f"unknown rlimit {r.resource!r}"]
    if r.resource == "nice":
        ok = re.fullmatch(r"[+-]?\d+", r.value) and -20 <= int(r.value) <= 19
        return [] if ok else [f"rlimit nice takes -20 to 19, not {r.value!r}"]
    if r.value == "infinity" or re.fullmatch(r"\d+[A-Za-z]*", r.value):
        return []
    return [f"invalid rlimit value {r.value!r}"]


def _userns(r: m.UsernsRule) -> list[str]:
    return _unknown("userns access", r.access, v.USERNS_ACCESS)


def _io_uring(r: m.IoUringRule) -> list[str]:
    out = _unknown("io_uring access", r.access, v.IO_URING_ACCESS)
    return out + _conds("io_uring", r.conds, v.RULE_CONDS["io_uring"], False)


def _mqueue(r: m.MqueueRule) -> list[str]:
    out = _unknown("mqueue access", r.access, v.MQUEUE_ACCESS)
    out += _conds("mqueue", r.conds, v.RULE_CONDS["mqueue"], False)
    kind = next((c.values[0] for c in r.conds if c.key == "type" and c.values), None)
    if kind is not None and kind not in ("posix", "sysv"):
        out.append(f"mqueue type is posix or sysv, not {kind!r}")
    if r.name is not None and not r.name.startswith("@{"):
        if kind == "sysv" and not r.name.isdigit():
            out.append(f"a sysv queue is named by a number, not {r.name!r}")
        elif (kind != "sysv" and not r.name.startswith("/") and not r.name.isdigit()) or (
            kind == "posix" and not r.name.startswith("/")
        ):
            out.append(f"a posix queue name starts with '/', not {r.name!r}")
    return out


def _change_profile(r: m.ChangeProfileRule) -> list[str]:
    if r.exec_mode and r.exec_path is None:
        return [f"change_profile {r.exec_mode} needs an exec path"]
    return []


_CHECKS: dict[type, Callable[[Any], list[str]]] = {
    m.FileRule: _file,
    m.CapabilityRule: _capability,
    m.NetworkRule: _network,
    m.UnixRule: _unix,
    m.DbusRule: _dbus,
    m.SignalRule: _signal,
    m.PtraceRule: _ptrace,
    m.MountRule: _mount,
    m.RlimitRule: _rlimit,
    m.UsernsRule: _userns,
    m.IoUringRule: _io_uring,
    m.MqueueRule: _mqueue,
    m.ChangeProfileRule: _change_profile,
}


def flag_problems(flags: frozenset[str]) -> list[str]:
    """Unknown flags, bad flag values and flags that exclude each other."""
    out: list[str] = []
    for flag in sorted(flags):
        key, eq, value = flag.partition("=")
        if not eq:
            if flag not in v.FLAGS:
                out.append(f"unknown profile flag {flag!r}")
        elif key not in v.VALUE_FLAGS:
            out.append(f"unknown profile flag {key!r}")
        elif key == "kill.signal" and value not in v.SIGNALS:
            out.append(f"kill.signal={value}: not a signal name")
        elif key == "error" and value not in v.ERRNO_NAMES:
            out.append(f"error={value}: not an errno name (EPERM, EACCES ...)")
        elif key.startswith("attach_disconnected.") and not value.startswith(("/", "@{")):
            out.append(f"{key}={value}: must be an absolute path")
    modes = sorted(flags & v.MODE_FLAGS)
    if len(modes) > 1:
        out.append(f"profile flags {', '.join(modes)} conflict: a profile has one mode")
    for a, b in v.FLAG_CONFLICTS:
        if a in flags and b in flags:
            out.append(f"profile flags {a} and {b} conflict")
    ipc = sorted(f for f in flags if f.partition("=")[0] == "attach_disconnected.ipc")
    if ipc and "no_attach_disconnected" in flags:
        out.append(f"profile flags {ipc[0]} and no_attach_disconnected conflict")
    if len([f for f in ipc if "=" in f]) > 1:
        out.append(f"profile flags {', '.join(ipc)} conflict: one attach_disconnected.ipc path")
    return out
