"""Rule-level difference of two policies, and their union with covered rules dropped."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from aaprof.errors import AaprofError
from aaprof.model import profile as m
from aaprof.profiles.aare import AareError, compile_aare
from aaprof.profiles.build import parse_policy
from aaprof.profiles.includes import read_policy_file
from aaprof.profiles.render import render_item

PREAMBLE = "(preamble)"


def read_policy(path: Path | str) -> m.PolicyFile:
    """Parse a policy file (`-` is standard input).

    Raises:
        AaprofError: the file cannot be read or does not parse (file:line:col in the message).
    """
    if str(path) != "-":
        return read_policy_file(Path(path))
    import sys

    text = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
    return parse_policy(text, filename="-")


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` at once (a temporary file renamed over it), keeping its mode.

    Raises:
        AaprofError: the directory is not writable.
    """
    temporary = path.with_name(f".{path.name}.aaprof-tmp")
    try:
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
        temporary.write_bytes(text.encode("utf-8", "surrogateescape"))
        temporary.chmod(mode)
        temporary.replace(path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise AaprofError(f"{path}: cannot write: {exc.strerror}") from None


def _entries(items: Iterable[m.PolicyItem]) -> list[str]:
    """The comparable lines of a body: rules and other items as rendered, children left out."""
    lines: list[str] = []
    for item in items:
        if isinstance(item, m.Profile | m.Comment):
            continue
        lines.extend(line.strip() for line in render_item(item))
    return lines


def profiles_by_name(policy: m.PolicyFile) -> dict[str, m.Profile]:
    """Every profile of a policy, children and hats as `parent//child`."""
    found: dict[str, m.Profile] = {}

    def visit(profiles: Iterable[m.Profile], prefix: str) -> None:
        for profile in profiles:
            name = prefix + profile.name
            found[name] = profile
            visit(profile.children(), name + "//")

    visit(policy.profiles(), "")
    return found


@dataclass(frozen=True, slots=True)
class Difference:
    """What one profile (or the preamble) has only on the left and only on the right."""

    profile: str
    removed: tuple[str, ...]
    added: tuple[str, ...]
    left_only: bool = False
    right_only: bool = False


def diff_policies(left: m.PolicyFile, right: m.PolicyFile) -> tuple[Difference, ...]:
    """Rule-level differences, profile by profile; rule order and formatting do not count."""
    out = []
    sides = [(PREAMBLE, _preamble(left), _preamble(right))]
    lefts, rights = profiles_by_name(left), profiles_by_name(right)
    for name in sorted(lefts.keys() | rights.keys()):
        a, b = lefts.get(name), rights.get(name)
        sides.append((name, _body_lines(a), _body_lines(b)))
        if a is None or b is None:
            out.append(Difference(name, (), (), left_only=b is None, right_only=a is None))
    for name, a_lines, b_lines in sides:
        removed = tuple(sorted(set(a_lines) - set(b_lines)))
        added = tuple(sorted(set(b_lines) - set(a_lines)))
        if (removed or added) and name not in {d.profile for d in out}:
            out.append(Difference(name, removed, added))
    return tuple(sorted(out, key=lambda d: (d.profile != PREAMBLE, d.profile)))


def _preamble(policy: m.PolicyFile) -> list[str]:
    return _entries(i for i in policy.items if not isinstance(i, m.Profile))


def _body_lines(profile: m.Profile | None) -> list[str]:
    if profile is None:
        return []
    head = render_item(replace(profile, body=()))[0]
    return [head, *_entries(profile.body)]


def merge_policies(policies: Iterable[m.PolicyFile]) -> m.PolicyFile:
    """The union of policies: profiles of one name merged, repeated and covered rules dropped.

    A profile's flags and header come from its first appearance. A file rule is dropped when
    another rule of the same profile with the same qualifiers and no `->` target covers it:
    its pattern matches the first rule's literal path and it grants at least its permissions
    (like aa-cleanprof; rules with globs are only dropped when repeated exactly).
    """
    items: list[m.PolicyItem] = []
    index: dict[str, int] = {}
    for policy in policies:
        for item in policy.items:
            if isinstance(item, m.Profile):
                key = item.keyword + " " + item.name
                if key in index:
                    items[index[key]] = _merge_profile(items[index[key]], item)  # type: ignore[arg-type]
                    continue
                index[key] = len(items)
            elif item in items:
                continue
            items.append(item)
    return m.PolicyFile(items=tuple(_cleaned(i) for i in items))


def _merge_profile(first: m.Profile, second: m.Profile) -> m.Profile:
    body = list(first.body)
    children = {c.name: n for n, c in enumerate(body) if isinstance(c, m.Profile)}
    for item in second.body:
        if isinstance(item, m.Profile) and item.name in children:
            at = children[item.name]
            body[at] = _merge_profile(body[at], item)  # type: ignore[arg-type]
        elif item not in body:
            body.append(item)
    return replace(first, body=tuple(body))


def _cleaned(item: m.PolicyItem) -> m.PolicyItem:
    return _cleaned_profile(item) if isinstance(item, m.Profile) else item


def _cleaned_profile(profile: m.Profile) -> m.Profile:
    rules = [r for r in profile.body if isinstance(r, m.FileRule)]
    dropped = {id(rules[i]) for i in covered_rules(rules)}
    kept: list[m.BodyItem] = []
    for item in profile.body:
        if isinstance(item, m.Profile):
            kept.append(_cleaned_profile(item))
        elif id(item) not in dropped:
            kept.append(item)
    return replace(profile, body=tuple(kept))


_GLOB_CHARS = frozenset("*?[]{}@\\")


def _literal(path: str) -> bool:
    """Whether `path` names one file (a pattern with a variable aaprof cannot resolve here,
    `@{pid}`, is taken for a pattern: it neither is covered nor covers)."""
    if _GLOB_CHARS.isdisjoint(path):
        return True
    try:
        return compile_aare(path).literal
    except AareError:
        return False


def _matches(pattern: str, path: str) -> bool:
    try:
        return compile_aare(pattern).matches(path)
    except AareError:
        return False


def covered_rules(rules: Sequence[m.FileRule]) -> set[int]:
    """The positions of the rules of `rules` that another allows entirely: a literal path all of
    whose permissions a glob (or the same path with more permissions) of the same qualifiers
    and exec mode allows too. Such a rule adds nothing to a profile that has the other.

    Only the globs are compiled, so a profile of thousands of exact rules costs little.
    """
    wide = [r for r in rules if r.path is not None and r.target is None and not _literal(r.path)]
    by_path: dict[str, list[m.FileRule]] = {}
    for r in rules:
        if r.path is not None and r.target is None:
            by_path.setdefault(r.path, []).append(r)
    out: set[int] = set()
    for at, rule in enumerate(rules):
        if rule.path is None or rule.target is not None or not _literal(rule.path):
            continue
        candidates = (*wide, *by_path[rule.path])
        if any(
            other is not rule
            and other.qualifiers == rule.qualifiers
            and other.exec_mode == rule.exec_mode
            and rule.perms <= other.perms
            and (other.path != rule.path or other.perms != rule.perms)
            and (other.path == rule.path or _matches(other.path or "", rule.path))
            for other in candidates
        ):
            out.add(at)
    return out


def covered(rule: m.FileRule, rules: Sequence[m.FileRule]) -> bool:
    """Whether one of `rules` allows all that `rule` allows (as `covered_rules` decides)."""
    pool = [*rules, rule]
    return len(pool) - 1 in covered_rules(pool)


def unified(differences: Iterable[Difference]) -> Iterator[str]:
    """The lines `aaprof profile diff` prints."""
    for d in differences:
        if d.left_only or d.right_only:
            yield f"{'-' if d.left_only else '+'} profile {d.profile}"
            continue
        yield f"@ {d.profile}"
        yield from (f"- {line}" for line in d.removed)
        yield from (f"+ {line}" for line in d.added)
