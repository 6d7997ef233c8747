"""`aaprof profile check`: what AppArmor's parser would reject, found without apparmor_parser.

`check_text` is the library entry point (the node loader and the review UI call it): syntax
errors, then the semantic errors a profile author hits (see docs/profile.md), each a `Problem`
at file:line:col with a one-line reason. `verdicts.check_file` adds apparmor_parser's verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pyparsing as pp

from aaprof.errors import AaprofError
from aaprof.model import profile as m
from aaprof.profiles.build import Locations, PolicySyntaxError, parse_located
from aaprof.profiles.includes import Includes, shown
from aaprof.profiles.semantics import flag_problems, rule_problems
from aaprof.profiles.variables import Variables

MAX_INCLUDE_DEPTH = 32
_VAR_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Problem:
    """One error: where (1-based line and column) and why, in one line."""

    filename: str
    line: int
    col: int
    reason: str

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.col}: {self.reason}"

    def to_dict(self) -> dict[str, object]:
        return {"file": self.filename, "line": self.line, "col": self.col, "reason": self.reason}


@dataclass(slots=True)
class _Source:
    filename: str
    text: str
    locs: Locations

    def at(self, item: object, reason: str) -> Problem:
        loc = self.locs.get(id(item), 0)
        return Problem(self.filename, pp.lineno(loc, self.text), pp.col(loc, self.text), reason)


@dataclass(slots=True)
class _Checker:
    includes: Includes
    fragment: bool
    loading: bool = False
    problems: list[Problem] = field(default_factory=list)
    variables: Variables = field(default_factory=Variables)
    booleans: set[str] = field(default_factory=set)
    boolean_values: dict[str, bool] = field(default_factory=dict)
    stack: list[Path] = field(default_factory=list)
    parsed: dict[Path, tuple[m.PolicyFile, _Source] | None] = field(default_factory=dict)

    # ---- files and includes --------------------------------------------------------------

    def source(self, text: str, filename: str) -> tuple[m.PolicyFile, _Source] | None:
        try:
            policy, locs = parse_located(text, filename=filename)
        except PolicySyntaxError as exc:
            self.problems.append(Problem(exc.filename, exc.line, exc.col, exc.reason))
            return None
        return policy, _Source(filename, text, locs)

    def include(self, inc: m.Include, src: _Source, top: bool, in_profile: bool) -> None:
        path = self.includes.locate(inc)
        if path is None:
            if not inc.if_exists:
                self.problems.append(src.at(inc, f"include {shown(inc)} not found"))
            return
        try:
            files = self.includes.files(path)
        except AaprofError as exc:
            self.problems.append(src.at(inc, f"include {shown(inc)}: {exc}"))
            return
        for file in files:
            resolved = file.resolve()
            if self.stack and resolved == self.stack[0]:
                self.problems.append(src.at(inc, f"{src.filename} includes itself"))
                return
            if resolved in self.stack:  # included already on this path: AppArmor reads it once
                continue
            if len(self.stack) >= MAX_INCLUDE_DEPTH:
                self.problems.append(src.at(inc, f"includes nest deeper than {MAX_INCLUDE_DEPTH}"))
                return
            if resolved not in self.parsed:  # parsed once, however often it is included
                try:
                    text = self.includes.read(file)
                except AaprofError as exc:
                    self.problems.append(src.at(inc, f"include {shown(inc)}: {exc}"))
                    continue
                self.parsed[resolved] = self.source(text, str(file))
            parsed = self.parsed[resolved]
            if parsed is not None:
                self.stack.append(resolved)
                self.items(parsed[0].items, parsed[1], top=top, in_profile=in_profile)
                self.stack.pop()

    # ---- items -------------------------------------------------------------------------------

    def items(
        self, items: tuple[m.PolicyItem, ...], src: _Source, *, top: bool, in_profile: bool
    ) -> None:
        for item in items:
            self.item(item, src, top=top, in_profile=in_profile)

    def item(self, item: m.PolicyItem, src: _Source, *, top: bool, in_profile: bool) -> None:
        if isinstance(item, m.Include):
            self.include(item, src, top, in_profile)
        elif isinstance(item, m.Variable):
            self.variable(item, src, top)
        elif isinstance(item, m.BooleanDef):
            if not top:
                self.problems.append(src.at(item, "boolean definitions belong outside profiles"))
            elif item.name in self.booleans and item.op == "=":
                self.problems.append(src.at(item, f"${item.name} is defined twice"))
            self.booleans.add(item.name)
            if item.op == ":=":
                self.boolean_values[item.name] = item.value
            else:  # "=" and "?=": the first value stands
                self.boolean_values.setdefault(item.name, item.value)
        elif isinstance(item, m.Profile):
            self.profile(item, src)
        elif isinstance(item, m.QualifierBlock):
            if not in_profile and not self.fragment:
                self.problems.append(src.at(item, "a rule block outside a profile"))
            self.items(item.body, src, top=False, in_profile=in_profile)
        elif isinstance(item, m.Conditional):
            self.items(item.body, src, top=top, in_profile=in_profile)
            self.items(item.orelse, src, top=top, in_profile=in_profile)
        elif isinstance(item, m.RULE_TYPES):
            self.rule(item, src, in_profile)

    def rule(self, rule: m.Rule, src: _Source, in_profile: bool) -> None:
        if not in_profile and not self.fragment:
            self.problems.append(src.at(rule, f"{rule.KIND} rule outside a profile"))
        for reason in rule_problems(rule, self.variables.expand):
            self.problems.append(src.at(rule, reason))
        for reason in self.variables.problems_in(_strings(rule)):
            self.problems.append(src.at(rule, reason))

    def variable(self, var: m.Variable, src: _Source, top: bool) -> None:
        if not top:
            self.problems.append(src.at(var, "variable assignments belong outside profiles"))
        if not _VAR_NAME.fullmatch(var.name):
            self.problems.append(src.at(var, f"invalid variable name @{{{var.name}}}"))
        reason = self.variables.assign(var)
        if reason:
            self.problems.append(src.at(var, reason))

    def profile(self, p: m.Profile, src: _Source) -> None:
        for reason in self.header_problems(p):
            self.problems.append(src.at(p, reason))
        self.items(p.body, src, top=False, in_profile=True)
        self.duplicates(p.body, src)
        self.exec_conflicts(p, src)

    def evaluate(self, condition: str) -> bool | None:
        """The value of an `if` condition where every name in it is known, else None."""
        tokens: list[str] = []
        words = condition.split()
        for i, word in enumerate(words):
            name = word.strip("${}@")
            if word in ("not", "and", "or", "(", ")"):
                tokens.append(word)
            elif word == "defined":
                continue
            elif i and words[i - 1] == "defined":
                known = name in self.variables.values or name in self.booleans
                tokens.append(str(known))
            elif word.lower() in ("true", "false"):
                tokens.append(word.capitalize())
            elif name in self.boolean_values:
                tokens.append(str(self.boolean_values[name]))
            else:
                return None
        return _evaluate(tokens)

    def header_problems(self, p: m.Profile) -> list[str]:
        out = flag_problems(p.flags)
        name = p.name
        if self.loading and reserved(name):
            out.append(f"profile {name!r}: {reserved(name)}")
        for identity in p.identities:
            if not identity or "\\" in identity or (" " in identity and identity[0] != "/"):
                out.append(f"invalid identity {identity!r} (spaces only in a path identity)")
        if p.keyword == "" and not name.startswith(("/", ":", "@{")):
            out.append(f"a profile name without 'profile' must start with '/': {name!r}")
        if p.keyword == "" and name.startswith("@{"):
            values = self.variables.expand(name)
            if any(not x.startswith("/") for x in values):
                out.append(f"a profile name without 'profile' must start with '/': {name!r}")
        if name.startswith(":"):
            ns, sep, rest = name[1:].partition(":")
            if not sep:
                out.append(f"namespace in {name!r} needs a closing ':'")
            elif (not rest.strip() and p.keyword != "") or not ns or not rest.strip():
                out.append(f"{name!r}: a namespace needs a profile name")
        if p.attachment is not None and not p.attachment.startswith(("/", "@{", "{")):
            out.append(f"an attachment must be an absolute path: {p.attachment!r}")
        for flag in p.flags:
            key, _, value = flag.partition("=")
            if key == "attachment_disconnected.path" or "@{" not in value:
                continue
            if any(not x.startswith("/") for x in self.variables.expand(value)):
                out.append(f"{flag}: must expand to an absolute path")
        if "@{profile_name}" in name:
            out.append("@{profile_name} cannot name the profile it stands for")
        if p.keyword in ("^", "hat") and (p.xattrs or p.attachment):
            out.append("a hat has no attachment or xattrs")
        for field_value in (name, p.attachment):
            if field_value is not None and "@{" in field_value:
                out += self.variables.problems_in((field_value,), empty_is_error=True)
        return out

    def duplicates(
        self, items: tuple[m.PolicyItem, ...], src: _Source, seen: frozenset[str] = frozenset()
    ) -> frozenset[str]:
        """Report profiles defined twice in `items` (each branch of an if apart); their names."""
        names = set(seen)
        for item in items:
            if isinstance(item, m.Profile):
                if item.name in names:
                    self.problems.append(src.at(item, f"profile {item.name!r} is defined twice"))
                names.add(item.name)
            elif isinstance(item, m.QualifierBlock):
                names |= self.duplicates(item.body, src, frozenset(names))
            elif isinstance(item, m.Conditional):
                taken = self.evaluate(item.condition)
                if taken is None:  # unknown: each branch on its own
                    self.duplicates(item.body, src, frozenset(names))
                    self.duplicates(item.orelse, src, frozenset(names))
                else:
                    names |= self.duplicates(
                        item.body if taken else item.orelse, src, frozenset(names)
                    )
        return frozenset(names)

    def exec_conflicts(self, p: m.Profile, src: _Source) -> None:
        modes: dict[tuple[str, bool], str] = {}
        safety: dict[tuple[str | None, str | None], str | None] = {}
        for rule in p.rules():
            if isinstance(rule, m.FileRule) and rule.exec_mode and rule.path is not None:
                key = (rule.path, rule.qualifiers.deny)
                if rule.qualifiers.deny:
                    continue
                before = modes.setdefault(key, rule.exec_mode)
                if before != rule.exec_mode:
                    reason = (
                        f"conflicting exec modes for {rule.path}: {before} and {rule.exec_mode}"
                    )
                    self.problems.append(src.at(rule, reason))
            elif isinstance(rule, m.ChangeProfileRule) and rule.exec_path is not None:
                cp_key = (rule.exec_path, rule.target)
                mode = rule.exec_mode or "safe"
                if safety.setdefault(cp_key, mode) != mode:
                    reason = f"change_profile {rule.exec_path}: safe and unsafe conflict"
                    self.problems.append(src.at(rule, reason))


def reserved(name: str) -> str:
    """Why `aaprof node load` refuses a profile of this name (a `//` path of one), or "".

    `unconfined` is the kernel's own (each namespace has one: replacing it would confine what
    runs unconfined); a `:ns:` name loads into another namespace and `&` starts a stack, which
    the loader's profiles never are; a control character would forge a line of securityfs's
    `profiles` listing, which the loader reads back to verify.
    """
    if any(part == "unconfined" for part in name.split("//")):
        return "'unconfined' is the kernel's own profile"
    if name.startswith((":", "&")):
        return "a namespace or stack name, not a profile the loader owns"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return "a control character in the name"
    return ""


_TRUTH = {"not", "and", "or", "(", ")", "True", "False"}


def _evaluate(tokens: list[str]) -> bool | None:
    if not tokens or any(t not in _TRUTH for t in tokens):
        return None
    try:  # only the words above: a boolean expression, nothing else to evaluate
        return bool(eval(" ".join(tokens), {"__builtins__": {}}, {}))
    except SyntaxError:
        return None


def _strings(rule: m.Rule) -> tuple[str, ...]:
    out: list[str] = []
    for name in ("path", "target", "source", "mountpoint", "newroot", "oldroot", "exec_path"):
        value = getattr(rule, name, None)
        if isinstance(value, str):
            out.append(value)
    for attr in ("name", "peer"):
        value = getattr(rule, attr, None)
        if isinstance(value, str):
            out.append(value)
    for cond in (*getattr(rule, "conds", ()), *_peer_conds(rule)):
        out.extend(cond.values)
    return tuple(out)


def _peer_conds(rule: m.Rule) -> tuple[m.Cond, ...]:
    peer = getattr(rule, "peer", ())
    return peer if isinstance(peer, tuple) else ()


def check_text(
    text: str,
    *,
    filename: str = "<text>",
    includes: Includes | None = None,
    fragment: bool = False,
    loading: bool = False,
) -> tuple[Problem, ...]:
    """Every error AppArmor's parser would report in `text`, without running it.

    Args:
        text: a policy file's text (undecodable bytes as surrogate escapes).
        filename: named in each problem.
        includes: how includes resolve and which files may be read (`includes.Includes`:
            `<x>` under /etc/apparmor.d by default, `"x"` from the working directory, as
            apparmor_parser does). An include that is not read is a problem at its line.
        fragment: the text is meant to be included (an abstraction, a tunable): rules may
            stand outside a profile.
        loading: the text is to be loaded by `aaprof node load`: reserved names
            (`reserved`) are problems too.

    Returns:
        The problems, the file's own first, by line and column (a syntax error ends the
        check of its file); empty when the policy is valid. Never raises for bad input.
    """
    resolver = includes if includes is not None else Includes()
    checker = _Checker(resolver, fragment, loading, variables=Variables(fragment))
    if not filename.startswith("<"):
        checker.stack.append(Path(filename).resolve())
    parsed = checker.source(text, filename)
    if parsed is not None:
        policy, src = parsed
        checker.items(policy.items, src, top=True, in_profile=False)
        checker.duplicates(policy.items, src)
        for reason in checker.variables.cycles():
            checker.problems.append(Problem(filename, 1, 1, reason))
    found = dict.fromkeys(checker.problems)
    return tuple(sorted(found, key=lambda p: (p.filename != filename, p.filename, p.line, p.col)))
