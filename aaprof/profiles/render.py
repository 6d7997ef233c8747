"""The canonical renderer: model → policy text, deterministic, every name quoted safely."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from aaprof.errors import AaprofError
from aaprof.model import profile as m
from aaprof.profiles.aare import AARE_META, escape

# A literal name as the pattern that matches exactly it: the one escape, from aare.
aare_escape = escape

INDENT = "  "
_SAFE = re.compile(r"[A-Za-z0-9_/.@*?\[\]^+:~%&{},-]+")
_PERM_ORDER = "mrwalk"
# `"` as octal: apparmor_parser reads `\"` too, but aa-logprof's parser (python3-apparmor)
# refuses the line ("Unknown line found"); `\042` compiles to the same rule in both
_QUOTE_ESCAPES = {'"': "\\042", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _commas_in_braces(text: str) -> bool:
    depth = 0
    for i, ch in enumerate(text):
        depth += (ch == "{") - (ch == "}")
        if ch == "," and (depth <= 0 or i + 1 == len(text) or text[i + 1] == ","):
            return False
    return depth == 0


def _quoted(value: str) -> str:
    out = ['"']
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            nxt = value[i + 1] if i + 1 < len(value) else ""
            # `\\` as octal: apparmor_parser's lexer misreads `\\"` at the end of a quoted name
            escaped = nxt and nxt in AARE_META
            out.append(("\\134" if nxt == "\\" else "\\" + nxt) if escaped else "\\134")
            i += 2 if escaped else 1
            continue
        code = ord(ch)
        if ch in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[ch])
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\{code - 0xDC00:03o}")
        elif 0xD800 <= code <= 0xDFFF:
            raise AaprofError(f"cannot render a lone surrogate in {value!r}")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\{code:03o}")
        else:
            out.append(ch)
        i += 1
    out.append('"')
    return "".join(out)


def quote_name(value: str) -> str:
    """A name, label or pattern as one token: bare when plainly safe, else quoted and escaped.

    The value is an AARE pattern as the model keeps it (`\\*` a literal star, `@{X}` a variable).
    Nothing in it can end the token, the rule or the block: quotes, newlines, commas, braces and
    non-UTF-8 bytes (surrogate escapes) are escaped inside double quotes.
    """
    if (
        _SAFE.fullmatch(value)
        and value[0] not in "{}^-#,"
        and ("," not in value or _commas_in_braces(value))
    ):
        return value
    return _quoted(value)


def quote_path(value: str) -> str:
    """A path pattern: as `quote_name`, but quoted unless it starts with `/` or `@{`."""
    if value.startswith(("/", "@{")):
        return quote_name(value)
    return _quoted(value)


def _qualifiers(q: m.Qualifiers) -> str:
    parts = [f"priority={q.priority}"] if q.priority is not None else []
    parts += ["audit"] * q.audit + ([q.access] if q.access else []) + ["owner"] * q.owner
    parts += ["other"] * q.other
    return "".join(p + " " for p in parts if p)


def _access(access: frozenset[str], bare_one: bool = True) -> str:
    if not access:
        return ""
    if len(access) == 1 and bare_one:
        return " " + quote_name(next(iter(access)))
    return " (" + ", ".join(quote_name(a) for a in sorted(access)) + ")"


def _cond(c: m.Cond, sep: str = " ") -> str:
    if not c.op:  # a bare xattrs value
        return quote_name(c.key)
    values = [quote_name(v) for v in c.values]
    if c.op == "in":
        return f"{c.key} in ({sep.join(values)})"
    if len(values) == 1:
        return f"{c.key}{c.op}{values[0]}"
    return f"{c.key}=({sep.join(values)})"


def _conds(conds: Iterable[m.Cond], peer: tuple[m.Cond, ...] = (), sep: str = " ") -> str:
    text = "".join(" " + _cond(c, sep) for c in conds)
    if peer:
        text += " peer=(" + " ".join(_cond(c) for c in peer) + ")"
    return text


def _opt(prefix: str, value: str | None, quote: Callable[[str], str] = quote_name) -> str:
    return "" if value is None else prefix + quote(value)


def _perms(rule: m.FileRule) -> str:
    letters = sorted(rule.perms, key=lambda ch: (_PERM_ORDER.find(ch) % 99, ch))
    return "".join(letters) + (rule.exec_mode or "")


def _file(r: m.FileRule) -> str:
    perms = _perms(r)
    head = "file" if r.keyword or r.path is None else ""
    if r.exec_safety and perms and r.path is not None:  # `unsafe px /x`: perms go first
        parts = [p for p in (head, r.exec_safety, perms, quote_path(r.path)) if p]
        return " ".join(parts) + _opt(" -> ", r.target)
    parts = [p for p in (head, _opt("", r.path, quote_path), perms) if p]
    return " ".join(parts) + _opt(" -> ", r.target)


def _rule_text(r: m.Rule) -> str:
    if isinstance(r, m.FileRule):
        return _file(r)
    if isinstance(r, m.CapabilityRule):
        return "capability" + "".join(" " + quote_name(n) for n in sorted(r.names))
    if isinstance(r, m.NetworkRule):
        head = "network" + _access(r.access, bare_one=False)
        words = _opt(" ", r.domain) + _opt(" ", r.type)
        return head + words + _conds(r.conds, r.peer)
    if isinstance(r, m.UnixRule | m.DbusRule):
        return r.KIND + _access(r.access) + _conds(r.conds, r.peer)
    if isinstance(r, m.SignalRule):
        signals = sorted(r.signals)
        sigset = (" set=(" + ", ".join(map(quote_name, signals)) + ")") * bool(signals)
        return "signal" + _access(r.access) + sigset + _opt(" peer=", r.peer)
    if isinstance(r, m.PtraceRule):
        return "ptrace" + _access(r.access) + _opt(" peer=", r.peer)
    if isinstance(r, m.MountRule):
        return r.operation + _conds(r.conds, sep=", ") + _mount_paths(r)
    if isinstance(r, m.PivotRootRule):
        old = _opt(" oldroot=", r.oldroot, quote_path)
        return "pivot_root" + old + _opt(" ", r.newroot, quote_path) + _opt(" -> ", r.target)
    if isinstance(r, m.ChangeProfileRule):
        mode = _opt(" ", r.exec_mode)
        return "change_profile" + mode + _opt(" ", r.exec_path, quote_path) + _opt(" -> ", r.target)
    if isinstance(r, m.RlimitRule):
        return f"set rlimit {r.resource} <= {r.value}"
    if isinstance(r, m.UsernsRule):
        return "userns" + _access(r.access)
    if isinstance(r, m.IoUringRule):
        return "io_uring" + _access(r.access) + _conds(r.conds)
    if isinstance(r, m.MqueueRule):
        return "mqueue" + _access(r.access) + _conds(r.conds) + _opt(" ", r.name, quote_path)
    if isinstance(r, m.AllRule):
        return "all"
    if isinstance(r, m.LinkRule):
        subset = " subset" * r.subset
        return f"link{subset} {quote_path(r.path)} -> {quote_path(r.target)}"
    return "^" + quote_name(r.name)


def _mount_paths(r: m.MountRule) -> str:
    if r.operation != "mount":
        return _opt(" ", r.mountpoint, quote_path)
    return _opt(" ", r.source, quote_path) + _opt(" -> ", r.mountpoint, quote_path)


def render_rule(rule: m.Rule) -> str:
    """One rule as a line, with its qualifiers and the closing `,` (no indent, no newline)."""
    qualifiers = (
        "" if isinstance(rule, m.RlimitRule | m.ChangeHatRule) else _qualifiers(rule.qualifiers)
    )
    return qualifiers + _rule_text(rule) + ","


def _header(p: m.Profile) -> str:
    if p.keyword == "^":
        head = "^" + quote_name(p.name)
    elif p.keyword:
        head = f"{p.keyword} {quote_name(p.name)}"
    else:
        head = quote_path(p.name)
    head = _qualifiers(p.qualifiers) + head + _opt(" ", p.attachment, quote_path)
    if p.identities:
        head += " + identities=(" + " ".join(quote_name(x) for x in p.identities) + ")"
    if p.xattrs:
        head += " xattrs=(" + " ".join(_cond(c) for c in p.xattrs) + ")"
    if p.flags:
        head += " flags=(" + ", ".join(sorted(p.flags)) + ")"
    return head + " {"


def _variable(v: m.Variable) -> str:
    return f"@{{{v.name}}}{v.op}" + " ".join(quote_name(x) for x in v.values)


def render_item(item: m.PolicyItem) -> list[str]:
    """The lines of one item (a rule, an include, a block, a profile), without indent."""
    return _lines(item, 0)


def _lines(item: m.PolicyItem, depth: int) -> list[str]:
    pad = INDENT * depth
    if isinstance(item, m.Profile):
        return [pad + _header(item), *_block(item.body, depth + 1), pad + "}"]
    if isinstance(item, m.QualifierBlock):
        return [pad + _qualifiers(item.qualifiers) + "{", *_block(item.body, depth + 1), pad + "}"]
    if isinstance(item, m.Conditional):
        return _conditional(item, depth, "if ")
    return [pad + _line(item)]


def _conditional(c: m.Conditional, depth: int, head: str) -> list[str]:
    pad = INDENT * depth
    lines = [f"{pad}{head}{c.condition} {{", *_block(c.body, depth + 1)]
    if len(c.orelse) == 1 and isinstance(c.orelse[0], m.Conditional):
        return [*lines, *_conditional(c.orelse[0], depth, "} else if ")]
    if c.orelse:
        lines += [pad + "} else {", *_block(c.orelse, depth + 1)]
    return [*lines, pad + "}"]


def _line(item: m.PolicyItem) -> str:
    if isinstance(item, m.Comment):
        return "#" + item.text.replace("\n", " ")
    if isinstance(item, m.Abi):
        return "abi " + (f"<{item.path}>" if item.magic else _quoted(item.path)) + ","
    if isinstance(item, m.Include):
        path = f"<{item.path}>" if item.magic else _quoted(item.path)
        return "include " + "if exists " * item.if_exists + path
    if isinstance(item, m.Variable):
        return _variable(item)
    if isinstance(item, m.BooleanDef):
        return f"${item.name} {item.op} {'true' if item.value else 'false'}"
    if isinstance(item, m.Alias):
        return f"alias {quote_path(item.original)} -> {quote_path(item.replacement)},"
    assert not isinstance(item, m.Profile | m.QualifierBlock | m.Conditional)
    return render_rule(item)


def _block(items: Iterable[m.PolicyItem], depth: int) -> list[str]:
    return [line for item in items for line in _lines(item, depth)]


def render_policy(policy: m.PolicyFile) -> str:
    """The canonical text of a policy file.

    Items keep their order (comments stay where they were, each on its own line); each
    profile is preceded by a blank line; two-space indent; sets (permissions, capabilities,
    flags, signals, accesses) sorted; names quoted only where needed, always safely.

    Args:
        policy: the parsed or built policy.

    Returns:
        The text, ending in a newline; the same model gives the same bytes.
    """
    lines: list[str] = []
    for item in policy.items:
        if isinstance(item, m.Profile) and lines:
            lines.append("")
        lines += _lines(item, 0)
    return "\n".join(lines) + "\n" if lines else ""
