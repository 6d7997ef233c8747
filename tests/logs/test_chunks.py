"""The candidate scan (aaprof/logs/chunks.py) against the obvious per-line loop: the same lines,
numbered the same, whatever the chunk size; and the marks found where they are."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aaprof.logs import chunks
from aaprof.logs.chunks import MARKS, Progress, mark_positions, record_lines

# each test once with the C searches and once with the pure-Python ones (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("searches")

# Pieces of lines: the marks, the parts of them the scan probes for first, and what is near them.
PIECES = [
    *(mark.decode() for mark in MARKS),
    "APPARMOR",
    "NKNOWN[",
    "type=15",
    "type=1400 ",
    "UNKNOWN[1400]",
    "apparmor",
    " ",
    "x",
    "=",
]
LINES = st.lists(st.sampled_from(PIECES), max_size=6).map("".join)


def _naive(chunk: bytes, start: int, size: int) -> list[int]:
    found = []
    for mark in MARKS:
        at = chunk.find(mark, start, size)
        while at >= 0:
            found.append(at)
            at = chunk.find(mark, at + 1, size)
    return sorted(found)


@given(st.lists(LINES, max_size=40), st.data())
def test_marks_are_found_where_they_are(lines: list[str], data: st.DataObject) -> None:
    chunk = "\n".join(lines).encode()
    start = data.draw(st.integers(0, len(chunk)))
    size = data.draw(st.integers(start, len(chunk)))
    assert mark_positions(chunk, start, size, MARKS) == _naive(chunk, start, size)


@given(st.lists(LINES, max_size=60), st.sampled_from([16, 64, 1 << 20]), st.booleans())
def test_record_lines_are_the_lines_with_a_mark(
    lines: list[str], chunk: int, last_newline: bool
) -> None:
    text = "\n".join(lines) + ("\n" if last_newline and lines else "")
    physical = [line + "\n" for line in text.split("\n")]
    physical[-1] = physical[-1][:-1]  # (what follows the last newline: a line if not empty)
    if not physical[-1]:
        physical.pop()
    expected = [
        (number, line.encode())
        for number, line in enumerate(physical, 1)
        if any(mark.decode() in line for mark in MARKS) and "msg='" not in line
    ]
    saved = chunks.CHUNK
    chunks.CHUNK = chunk
    try:
        done = Progress()
        got = list(record_lines(io.BytesIO(text.encode()), "t", done))
    finally:
        chunks.CHUNK = saved
    assert got == expected
    assert done.lines == len(physical) and done.bytes_read == len(text.encode())
