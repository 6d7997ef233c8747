"""JsonLines writes a copy of a record (logs.records.Record) from its first line's template: the
JSON lines equal `json.dumps(event.to_dict())` of every record's Event, byte for byte."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from bench_modules import load, realism_shapes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aaprof.containers.attribute import Attributor
from aaprof.logs import jsonlines, memo
from aaprof.logs.entry import records
from aaprof.logs.jsonlines import JsonLines, dumps
from aaprof.logs.reader import Reader
from aaprof.logs.select import Selection
from aaprof.logs.sources import expand

load("noise")
generator = load("generate")

LINE = (
    'type=AVC msg=audit(1700000000.{ms:03d}:{serial}): apparmor="DENIED" operation="open" '
    'profile="aaprof.shop.web.nginx" name={name} pid={pid} comm="c" requested_mask="r" '
    'denied_mask="r" fsuid=0 ouid=0'
)
NAMES = [
    '"/etc/x"',
    "2F746D702F78FF",  # hex, not UTF-8: a `name_hex` companion
    "2F746D702F22",  # hex: a quote in the name
    '"/\uf8fftime\uf8ff"',  # a hole's text in a name
    '"\uf8ffpid\uf8ff"',  # a hole's very text, before its key: no template for it
    '"\uf8fftime\uf8ff"',
    '"/\\u0000"',
    "2F746D700A78",  # a newline
]


def _lines(path: Path, selection: Selection) -> str:
    """The JSON lines of the records `logs.entry` gives, through JsonLines."""
    out = io.StringIO()
    lines = JsonLines()
    for record in records(Reader(), expand([str(path)]), selection, Attributor.default()):
        out.write(lines.line(record) + "\n")
    return out.getvalue()


def _expected(path: Path, selection: Selection) -> str:
    attribute = Attributor.default()
    return "".join(
        dumps(attribute(e).to_dict()) + "\n"
        for e in Reader().events(expand([str(path)]))
        if selection.keeps(e)
    )


@pytest.mark.parametrize("small", [False, True])
@pytest.mark.parametrize("mode", [None, "DENIED", "ALLOWED"])
@pytest.mark.parametrize("glob", [None, "/etc/*"])
def test_hostile_names_and_repeats(
    tmp_path: Path,
    mode: str | None,
    glob: str | None,
    small: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if small:  # the memo's generations and the templates turn over
        monkeypatch.setattr(memo, "MEMO_KEPT", 3)
        monkeypatch.setattr(jsonlines, "TEMPLATES_KEPT", 2)
    log = tmp_path / "audit.log"
    with log.open("w", encoding="utf-8") as out:
        for n in range(120):
            name = NAMES[n % len(NAMES)]
            out.write(LINE.format(ms=n % 1000, serial=n, name=name, pid=100 + n % 7) + "\n")
    selection = Selection.build(mode=mode or "all", name=glob)
    expected = _expected(log, selection)
    assert _lines(log, selection) == expected
    if glob is not None:  # one name in eight
        assert len(expected.splitlines()) == (0 if mode == "ALLOWED" else 15)
        return
    assert len(expected.splitlines()) == (0 if mode == "ALLOWED" else 120)
    assert '"name_hex":"2F746D702F78FF"' in expected or mode == "ALLOWED"


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    shape=realism_shapes(
        profiles=st.integers(1, 20),
        pids=st.integers(1, 10),
        hex_names=st.sampled_from([0.0, 0.3]),
        unique_names=st.sampled_from([0.0, 0.3]),
        stacked=st.sampled_from([0.0, 0.3]),
        companions=st.sampled_from([0.0, 0.5]),
        dbus=st.sampled_from([0.0, 0.05]),
        dbus_split=0.0,
        journal_text=False,
        rotate=0,
    ),
    seed=st.integers(0, 2**32),
    mode=st.sampled_from([None, "DENIED"]),
)
def test_copies_write_what_events_write(
    tmp_path_factory: pytest.TempPathFactory, shape: Any, seed: int, mode: str | None
) -> None:
    outdir = tmp_path_factory.mktemp("realistic")
    generator.generate(outdir, 400, seed, shape=shape)
    selection = Selection(modes=None if mode is None else frozenset({mode}))
    for name in ("audit.log", "kern.log"):
        path = outdir / name
        assert _lines(path, selection) == _expected(path, selection), name


def test_a_template_only_for_a_text_that_repeats(tmp_path: Path) -> None:
    """A line whose text comes once is written whole: a template is made when a copy of its
    text comes (on a log whose lines rarely repeat, making one per line doubled the work)."""
    log = tmp_path / "audit.log"
    once = [
        LINE.format(ms=n, serial=n, name='"/etc/x"', pid=100).replace('comm="c"', f'comm="c{n}"')
        for n in range(20)
    ]
    twice = [LINE.format(ms=n, serial=20 + n, name='"/etc/x"', pid=200 + n) for n in range(3)]
    log.write_text("\n".join(once + twice) + "\n")
    lines = JsonLines()
    out = [lines.line(r) for r in records(Reader(), expand([str(log)]), Selection())]
    events = Reader().events(expand([str(log)]))
    assert out == [dumps(e.to_dict()) for e in events]
    assert len(lines._templates) == 1
