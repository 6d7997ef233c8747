"""Session.read learns from the reader's copies (a record that only repeats an earlier line but
for its stamp and pid) without an Event each: the session equals the one learned from every
record's Event, evidence included (counts, examples, pids, first and last seen)."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pytest
from bench_modules import load

from aaprof.containers.attribute import Attributor
from aaprof.engine import Session, Settings
from aaprof.logs import entry as entry_module
from aaprof.logs import memo
from aaprof.logs.select import Selection
from aaprof.logs.sources import expand
from aaprof.model.event import Event

REPO = Path(__file__).resolve().parents[2]
# (the package exports a function of the same name)
suggest_module = importlib.import_module("aaprof.engine.suggest")
load("noise")
realism = load("realism")
load("generate")
generate_events = load("generate_events")


def _every_event(event: Event) -> Event:
    """An attribution that reads more than the text (as far as the session knows)."""
    return event


def _both(log: Path, tmp: Path, **kw: object) -> tuple[Session, Session]:
    fast = Session.read(expand([str(log)]), tmp / "a", **kw)  # type: ignore[arg-type]
    slow = Session.read(expand([str(log)]), tmp / "b", attribute=_every_event, **kw)  # type: ignore[arg-type]
    return fast, slow


def _assert_same(fast: Session, slow: Session) -> None:
    assert fast.suggestions == slow.suggestions
    assert (fast.learned, fast.stats) == (slow.learned, slow.stats)
    assert [s.alternatives for ps in fast.suggestions for s in ps.suggestions] == [
        s.alternatives for ps in slow.suggestions for s in ps.suggestions
    ]


@pytest.fixture(params=["caches as they are", "small caches"])
def caches(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.param == "small caches":  # the memo's generations and the protos turn over
        monkeypatch.setattr(memo, "MEMO_KEPT", 5)
        monkeypatch.setattr(suggest_module, "PROTOS_KEPT", 3)
        monkeypatch.setattr(entry_module, "DECISIONS_KEPT", 2)


@pytest.mark.parametrize("mix", ["clean", "realistic"])
@pytest.mark.usefixtures("caches")
def test_copies_learn_what_events_learn(tmp_path: Path, mix: str) -> None:
    shape = realism.CLEAN if mix == "clean" else realism.REALISTIC.but(pids=3)
    log = generate_events.generate(tmp_path / "log", 5000, 11, 300, shape=shape)
    fast, slow = _both(log, tmp_path)
    assert fast.learned > 4000 and sum(len(ps.suggestions) for ps in fast.suggestions) > 100
    _assert_same(fast, slow)
    denied = Selection(modes=frozenset({"ALLOWED", "DENIED"}), profile=None)
    _assert_same(*_both(log, tmp_path / "denied", selection=denied))
    # a selection by name: copies with names of their own are selected by their own name
    named = Selection.build(mode="allowed", name="/[a-s]*")
    fast, slow = _both(log, tmp_path / "named", selection=named)
    assert 0 < fast.learned < slow.learned + 1 and fast.learned < 4000
    _assert_same(fast, slow)


@pytest.mark.usefixtures("caches")
def test_copies_with_attribution_and_existing_profiles(tmp_path: Path) -> None:
    log = tmp_path / "all.log"
    with log.open("wb") as out:
        for path in sorted((REPO / "sample-logs").rglob("*.log")):
            out.write(path.read_bytes() * 3)  # every line repeated: copies of all of them
    for name in ("a", "b"):  # a profile that already allows some of it
        shutil.copytree(
            REPO / "tests" / "golden" / "expected" / "profiles", tmp_path / name / "profiles"
        )
    attributor = Attributor.default()
    assert attributor.by_text
    fast = Session.read(
        expand([str(log)]),
        tmp_path / "a",
        attribute=attributor,
        settings=Settings(per_container=True),
    )
    slow = Session.read(
        expand([str(log)]),
        tmp_path / "b",
        attribute=lambda e: attributor(e),  # noqa: PLW0108 (hides by_text: every Event)
        settings=Settings(per_container=True),
    )
    _assert_same(fast, slow)
