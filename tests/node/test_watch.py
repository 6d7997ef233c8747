"""`node load --watch`: a ConfigMap-style `..data` swap starts a pass (inotify, and polling).

The test waits for the pass that reports the new profile; the bound only stops a broken
loader from hanging the suite, nothing is asserted about time.
"""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path

import pytest

from aaprof.node.daemon import watch
from aaprof.node.load import LoadOptions, SyncResult
from node.fakehost import KernelDouble, make_root, profile_text

GIVE_UP_S = 120.0


def _configmap(directory: Path, version: str, profiles: dict[str, str]) -> None:
    """What the kubelet does: a new `..VERSION` directory, `..data` renamed over, links."""
    data = directory / f"..{version}"
    data.mkdir(parents=True)
    for name, text in profiles.items():
        (data / name).write_text(text)
    tmp = directory / "..data_tmp"
    tmp.symlink_to(data.name)
    os.replace(tmp, directory / "..data")
    for name in profiles:
        link = directory / name
        if not link.is_symlink():
            link.symlink_to(f"..data/{name}")


@pytest.mark.parametrize("poll", [False, True], ids=["inotify", "polling"])
def test_data_swap_is_followed(tmp_path: Path, poll: bool) -> None:
    root = make_root(tmp_path / "root")
    host = KernelDouble(root, names=("k8s-w1", "k8s-w2"))
    cm = tmp_path / "cm"
    _configmap(cm, "v1", {"k8s-w1": profile_text("k8s-w1")})
    state = tmp_path / "state"
    state.mkdir()
    (state / "ready").write_text("stale\n")
    options = LoadOptions((cm,), state, base=tmp_path)
    passes: queue.Queue[SyncResult | None] = queue.Queue()
    stop = threading.Event()
    modes: list[str] = []

    def run() -> None:
        report = lambda result, error: passes.put(result)  # noqa: E731
        modes.append(watch(host, options, stop=stop, report=report, resync_s=3600, poll=poll))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        first = passes.get(timeout=GIVE_UP_S)
        assert first is not None and [o.name for o in first.outcomes] == ["k8s-w1"]
        assert (state / "ready").read_text() != "stale\n"
        _configmap(cm, "v2", {"k8s-w1": profile_text("k8s-w1"), "k8s-w2": profile_text("k8s-w2")})
        while True:
            result = passes.get(timeout=GIVE_UP_S)
            assert result is not None
            if any(o.name == "k8s-w2" for o in result.outcomes):
                break
        assert {o.name: o.action for o in result.outcomes} == {
            "k8s-w1": "unchanged",
            "k8s-w2": "loaded",
        }
        assert host.loaded() == {"k8s-w1": "enforce", "k8s-w2": "enforce"}
    finally:
        stop.set()
        thread.join(GIVE_UP_S)
    assert not thread.is_alive()
    assert modes == ["polling" if poll else "inotify"]
