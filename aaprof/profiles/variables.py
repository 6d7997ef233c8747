"""Variables as `check.py` follows them: assignments in order, references, cycles."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from aaprof.model import profile as m
from aaprof.profiles.vocab import BUILTIN_VARIABLES

_REF = re.compile(r"(?<!\\)@\{(\w+)\}")
_MAX_EXPANSIONS = 4096


@dataclass(slots=True)
class Variables:
    """`@{NAME}` values seen so far. `lenient`: a fragment, whose context defines the rest."""

    lenient: bool = False
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def assign(self, var: m.Variable) -> str | None:
        """Record an assignment; the reason it is wrong, or None."""
        if var.op == "+=":
            if var.name not in self.values and not self.lenient:
                self.values[var.name] = var.values
                return f"@{{{var.name}}} += before @{{{var.name}}} = (nothing to add to)"
            self.values[var.name] = self.values.get(var.name, ()) + var.values
            return None
        if var.name in self.values and var.op == "=":
            return f"@{{{var.name}}} is assigned twice (use += to add values, := to override)"
        self.values[var.name] = var.after(self.values.get(var.name))
        return None

    def problems_in(self, strings: Iterable[str], *, empty_is_error: bool = False) -> list[str]:
        """Undefined (or, with `empty_is_error`, empty) variables that `strings` use."""
        out: list[str] = []
        for text in strings:
            for name in _REF.findall(text):
                if name in BUILTIN_VARIABLES:
                    continue
                if name not in self.values:
                    if not self.lenient:
                        out.append(f"undefined variable @{{{name}}}")
                elif empty_is_error and not self.expand(f"@{{{name}}}"):
                    out.append(f"variable @{{{name}}} is empty here")
        return list(dict.fromkeys(out))

    def expand(self, text: str, seen: tuple[str, ...] = ()) -> tuple[str, ...]:
        """Every string `text` stands for (unknown and cyclic references left as written)."""
        match = next(
            (
                x
                for x in _REF.finditer(text)
                if x.group(1) in self.values and x.group(1) not in seen
            ),
            None,
        )
        if match is None:
            return (text,)
        name = match.group(1)
        heads = [h for value in self.values[name] for h in self.expand(value, (*seen, name))]
        tails = self.expand(text[match.end() :], seen)
        out: dict[str, None] = {}
        for head in heads:
            for tail in tails:
                out[text[: match.start()] + head + tail] = None
                if len(out) >= _MAX_EXPANSIONS:
                    return tuple(out)
        return tuple(out)

    def cycles(self) -> list[str]:
        """Variables whose values refer back to themselves; and undefined ones they use."""
        out: list[str] = []
        for name in self.values:
            if self._reaches(name, name, set()):
                out.append(f"variable @{{{name}}} refers to itself")
        for name, values in self.values.items():
            out += [f"{r} (in @{{{name}}})" for r in self.problems_in(values)]
        return out

    def _reaches(self, start: str, target: str, seen: set[str]) -> bool:
        for value in self.values.get(start, ()):
            for ref in _REF.findall(value):
                if ref == target:
                    return True
                if ref not in seen:
                    seen.add(ref)
                    if self._reaches(ref, target, seen):
                        return True
        return False
