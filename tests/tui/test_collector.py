"""The review's collector policy: the automatic full passes are off while it runs and back after;
one full pass runs once input has paused, and only after new input."""

from __future__ import annotations

import gc

from aaprof.tui.collector import NEVER, QUIET, Collector


def test_full_passes_wait_for_a_pause_in_the_input_and_the_collector_comes_back() -> None:
    before = gc.get_threshold()
    collector = Collector()
    collector.start()
    try:
        assert gc.get_threshold() == (before[0], before[1], NEVER)
        assert gc.get_freeze_count() > 0
        assert not collector.idle()  # no input yet: nothing to collect
        collector.input()
        assert not collector.idle()  # input just now: not a pause
        collector.last_input -= QUIET  # as if QUIET seconds had passed
        assert collector.idle() and collector.passes == 1
        assert not collector.idle()  # once per pause
    finally:
        collector.stop()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
