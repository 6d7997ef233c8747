"""The byte searches (aaprof/logs/bytescan.py): the C accelerator and the pure-Python twins give
what the obvious loops give, on buffers full of near misses."""

from __future__ import annotations

from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aaprof.logs import bytescan

# each test once with the C searches and once with the pure-Python ones (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("searches")

# Buffers made of needles, their parts and their neighbours, so that near misses abound.
PIECES = [
    b"apparmor=",
    b"): apparmor=",
    b"): ",
    b"appar",
    b"rmor=",
    b"type=150",
    b"type=15",
    b"UNKNOWN[150",
    b"APPARMOR",
    b"\n",
    b"=",
    b"a",
    b")",
    b" ",
]
BUFFERS = st.lists(st.sampled_from(PIECES), max_size=40).map(b"".join)
NEEDLES = st.sampled_from([b"apparmor=", b"rmor=", b"type=150", b"APPARMOR", b"\n", b"=", b"a"])


def _all(buffer: bytes, needle: bytes, start: int, end: int) -> list[int]:
    """Every occurrence, overlapping ones too (the obvious loop)."""
    return [at for at in range(start, end - len(needle) + 1) if buffer.startswith(needle, at)]


def _span(data: st.DataObject, buffer: bytes) -> tuple[int, int]:
    start = data.draw(st.integers(0, len(buffer) + 2))
    return start, data.draw(st.integers(max(0, start - 2), len(buffer) + 2))


@given(buffer=BUFFERS, needle=NEEDLES, data=st.data())
def test_count_is_bytes_count(buffer: bytes, needle: bytes, data: st.DataObject) -> None:
    start, end = _span(data, buffer)
    expected = buffer.count(needle, start, end)
    assert bytescan.count(buffer, needle, start, end) == expected
    assert bytescan.count(bytearray(buffer), needle, start, end) == expected
    assert bytescan.count(memoryview(buffer), needle, start, end) == expected


@given(buffer=BUFFERS, needles=st.lists(NEEDLES, max_size=4).map(tuple), data=st.data())
def test_positions_are_every_occurrence(
    buffer: bytes, needles: tuple[bytes, ...], data: st.DataObject
) -> None:
    start, end = _span(data, buffer)
    expected = sorted(at for needle in needles for at in _all(buffer, needle, start, end))
    assert bytescan.positions(buffer, needles, start, end) == expected


@given(
    buffer=BUFFERS,
    needle=st.sampled_from([b"apparmor=", b"rmor=", b"type=150", b"\n"]),
    before=st.sampled_from([b"): ", b")", b"", b"app"]),
    data=st.data(),
)
def test_positions_not_after_leave_out_those_after(
    buffer: bytes, needle: bytes, before: bytes, data: st.DataObject
) -> None:
    start, end = _span(data, buffer)
    expected = [
        at
        for at in _all(buffer, needle, start, end)
        if not before or buffer[max(0, at - len(before)) : at] != before
    ]
    assert bytescan.positions_not_after(buffer, needle, before, start, end) == expected


@given(buffer=BUFFERS, needle=NEEDLES.filter(lambda n: b"\n" not in n), data=st.data())
def test_lines_with_are_the_lines_holding_the_needle(
    buffer: bytes, needle: bytes, data: st.DataObject
) -> None:
    start, end = _span(data, buffer)
    lines = [line + b"\n" for line in buffer[start:end].split(b"\n")]
    lines[-1] = lines[-1][:-1]  # (after the last newline: no newline)
    expected = b"".join(line for line in lines if needle in line)
    assert bytescan.lines_with(buffer, needle, start, end) == expected


@given(buffer=BUFFERS, needles=st.lists(NEEDLES, max_size=4).map(tuple), data=st.data())
def test_marked_lines_are_the_lines_holding_a_needle(
    buffer: bytes, needles: tuple[bytes, ...], data: st.DataObject
) -> None:
    needles = tuple(n for n in needles if b"\n" not in n)
    start, end = _span(data, buffer)
    expected = []
    at, newlines = start, 0
    for line in buffer[start:end].split(b"\n") if start < end else []:
        whole = buffer[at : min(at + len(line) + 1, end)]
        if any(needle in line for needle in needles):
            expected.append((newlines, at + len(whole), whole))
        at += len(whole)
        newlines += whole.endswith(b"\n")
    assert bytescan.marked_lines(buffer, needles, start, end) == expected


def test_the_extension_refuses_empty_needles(extension: ModuleType) -> None:
    module = extension
    with pytest.raises(ValueError, match="empty needle"):
        module.count(b"abc", b"")
    with pytest.raises(TypeError, match="non-empty bytes"):
        module.positions(b"abc", (b"a", b""), 0, 3)
    with pytest.raises(TypeError, match="non-empty bytes"):
        module.positions(b"abc", ("a",), 0, 3)
    with pytest.raises(TypeError, match="non-empty bytes"):
        module.marked_lines(b"abc", (b"",), 0, 3)


def test_count_takes_negative_and_missing_ends_as_bytes_count(extension: ModuleType) -> None:
    module = extension
    buffer = b"a\nb\nc\n"
    for start, end in [(-3, None), (0, -1), (-100, 100), (5, 2), (100, None)]:
        assert module.count(buffer, b"\n", start, end) == buffer.count(b"\n", start, end)


def test_pure_python_is_chosen_by_the_environment(
    extension: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AAPROF_PURE_PYTHON", "1")
    assert bytescan._extension() is None
    monkeypatch.delenv("AAPROF_PURE_PYTHON")
    assert bytescan._extension() is extension
