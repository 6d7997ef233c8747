"""grammar.fast_file, the one-regex path for plain file rules, reads what the full grammar reads.

Each text is parsed twice, with the fast path and with `item` holding every other alternative
only: the models, the locations and the errors must be the same.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyparsing as pp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aaprof.errors import AaprofError
from aaprof.profiles import grammar as g
from aaprof.profiles.build import parse_located


def _item() -> pp.MatchFirst:
    assert isinstance(g.item, pp.MatchFirst)
    return g.item


@contextmanager
def _without_fast_path() -> Iterator[None]:
    exprs = _item().exprs
    _item().exprs = [e for e in exprs if e is not g.fast_file]
    try:
        yield
    finally:
        _item().exprs = exprs


def _read(text: str) -> object:
    try:
        policy, locs = parse_located(text, filename="t")
    except AaprofError as exc:
        return str(exc)
    located = [(type(item).__name__, locs.get(id(item))) for item in policy.items]
    for profile in policy.profiles():
        located += [(type(item).__name__, locs.get(id(item))) for item in profile.body]
    return policy, located


def _both(text: str) -> tuple[object, object]:
    fast = _read(text)
    with _without_fast_path():
        full = _read(text)
    return fast, full


def test_the_fast_path_is_taken_and_can_be_left_out() -> None:
    text = "profile p {\n  /a r,\n}\n"
    assert _item().exprs[0] is g.fast_file
    assert "[FileRule(" in repr(g.policy_file.parse_string(text))  # built as it is parsed
    with _without_fast_path():
        assert "[FileRule(" not in repr(g.policy_file.parse_string(text))


_QUALIFIERS = st.lists(
    st.sampled_from(["audit", "allow", "deny", "owner", "other", "priority=1", "audit\n"]),
    max_size=3,
)
_PATH = st.text(alphabet='/ab.-_*?[]{},@\\"#!: ~%+=', min_size=1, max_size=12)
_PERMS = st.text(alphabet="rwalkmixpPuUcCD", min_size=0, max_size=4)
_TAIL = st.sampled_from([",", " ,", "\t,", " -> t,", " # c\n,", "", ",x", "\n,"])


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_QUALIFIERS, _PATH, st.sampled_from([" ", "\t", "  ", "\n", ""]), _PERMS, _TAIL)
def test_any_line_near_the_fast_shape_reads_the_same(
    qualifiers: list[str], path: str, gap: str, perms: str, tail: str
) -> None:
    line = " ".join([*qualifiers, "/" + path]) + gap + perms + tail
    text = f"profile p {{\n  {line}\n  /z r,\n}}\n{line}\n"
    fast, full = _both(text)
    assert fast == full, text


@pytest.mark.parametrize(
    "line",
    [
        "audit deny owner /a/b rw,",
        "other /c/** r,",
        "/usr/lib/x86_64-linux-gnu/lib*.so* mr,",
        "/a rwx,",  # a bare x: the same error at the same place
        "/a ix,",
        "/a wa,",
        "allow /a k,",
        # just outside it: each must take the full grammar and read as it does
        "/a, r,",
        "/a,b r,",
        "/{a,b} r,",
        "/a{b r,",
        "/a\\ b r,",
        "/@{x} r,",
        '"/a b" r,',
        "/a#b r,",
        "/a!b r,",
        "/a r, # c",
        "/a\n r,",
        "/a r\n,",
        "owner\n/a r,",
        "/a -> /b r,",
        "priority=1 /a r,",
        "/a r -> t,",
    ],
)
def test_lines_of_the_fast_shape(line: str) -> None:
    fast, full = _both(f"profile p {{\n  {line}\n}}\n")
    assert fast == full


def test_every_debian_file_reads_the_same() -> None:
    files = sorted(
        f
        for r in ("/etc/apparmor.d/**/*", "/usr/share/apparmor/extra-profiles/*")
        for f in glob.glob(r, recursive=True)
        if Path(f).is_file() and "/abi/" not in f and not f.endswith("README")
    )
    assert len(files) > 300, "install apparmor apparmor-profiles apparmor-profiles-extra"
    for f in files:
        text = Path(f).read_bytes().decode("utf-8", "surrogateescape")
        fast, full = _both(text)
        assert fast == full, f
