"""The loader's pass over fixture trees: validation first, ownership, verification, prune."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aaprof.errors import AaprofError
from aaprof.node.load import LoadOptions, sync
from aaprof.node.state import read_state
from aaprof.node.status import write_status
from node.fakehost import KernelDouble, make_root, profile_text

NAMES = ("k8s-a", "k8s-b", "k8s-c")


def _setup(
    tmp_path: Path, loaded: dict[str, str] | None = None
) -> tuple[KernelDouble, LoadOptions]:
    root = make_root(tmp_path / "root", loaded or {})
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    for name in ("k8s-a", "k8s-b"):
        (profiles / name).write_text(profile_text(name))
    opts = LoadOptions((profiles,), tmp_path / "state", base=tmp_path)
    return KernelDouble(root, names=NAMES), opts


def _actions(result: object) -> dict[str, str]:
    return {o.name or o.file: o.action for o in result.outcomes}  # type: ignore[attr-defined]


def test_loads_verifies_and_records_ownership(tmp_path: Path) -> None:
    host, opts = _setup(tmp_path)
    result = sync(host, opts)
    assert _actions(result) == {"k8s-a": "loaded", "k8s-b": "loaded"}
    assert result.ok
    assert host.loaded() == {"k8s-a": "enforce", "k8s-b": "enforce"}
    assert sorted(read_state(opts.state_dir).owned) == ["k8s-a", "k8s-b"]
    assert _actions(sync(host, opts)) == {"k8s-a": "unchanged", "k8s-b": "unchanged"}


def test_edit_is_loaded_again(tmp_path: Path) -> None:
    host, opts = _setup(tmp_path)
    sync(host, opts)
    (opts.dirs[0] / "k8s-a").write_text(profile_text("k8s-a", ["/tmp/** rw,"]))
    assert _actions(sync(host, opts)) == {"k8s-a": "loaded", "k8s-b": "unchanged"}


def test_foreign_profile_is_refused_and_others_load(tmp_path: Path) -> None:
    host, opts = _setup(tmp_path, {"k8s-b": "enforce"})
    result = sync(host, opts)
    assert _actions(result) == {"k8s-a": "loaded", "k8s-b": "refused"}
    assert not result.ok
    assert "not loaded by aaprof" in next(o.message for o in result.outcomes if o.name == "k8s-b")
    assert "k8s-b" not in read_state(opts.state_dir).owned


def test_bad_profile_named_with_line_and_others_load(tmp_path: Path) -> None:
    host, opts = _setup(tmp_path)
    bad = opts.dirs[0] / "k8s-c"
    bad.write_text("profile k8s-c {\n  /tmp/** r,\n  /x rr q,\n}\n")
    result = sync(host, opts)
    failed = [o for o in result.outcomes if o.action == "failed"]
    assert len(failed) == 1 and failed[0].file == str(bad)
    assert f"{bad}:3:" in failed[0].message, failed[0].message  # file:line:col
    assert _actions(result)["k8s-a"] == "loaded"
    assert not result.ok


def test_bad_edit_unloads_nothing(tmp_path: Path) -> None:
    host, opts = _setup(tmp_path)
    sync(host, opts)
    (opts.dirs[0] / "k8s-a").write_text("profile k8s-a {\n  /x rr q,\n}\n")
    result = sync(host, LoadOptions(opts.dirs, opts.state_dir, opts.base, prune=True))
    assert "k8s-a" in host.loaded()
    assert "k8s-a" in read_state(opts.state_dir).owned
    assert not any(o.action == "unloaded" for o in result.outcomes)


def test_prune_unloads_unused_keeps_used(tmp_path: Path) -> None:
    host, opts = _setup(tmp_path)
    sync(host, opts)
    (tmp_path / "root/proc/41/attr").mkdir(parents=True)
    (tmp_path / "root/proc/41/attr/current").write_text("k8s-b (enforce)\n")
    for name in ("k8s-a", "k8s-b"):
        (opts.dirs[0] / name).unlink()
    stale = sync(host, opts)
    assert _actions(stale) == {"k8s-a": "stale", "k8s-b": "stale"}
    pruned = sync(host, LoadOptions(opts.dirs, opts.state_dir, opts.base, prune=True))
    assert _actions(pruned) == {"k8s-a": "unloaded", "k8s-b": "kept"}
    assert "41" in next(o.message for o in pruned.outcomes if o.name == "k8s-b")
    assert host.loaded() == {"k8s-b": "enforce"}
    assert sorted(read_state(opts.state_dir).owned) == ["k8s-b"]
    assert (tmp_path / "root/sys/kernel/security/apparmor/.remove").read_bytes() == b"k8s-a"


def test_unload_removes_only_what_it_loaded(tmp_path: Path) -> None:
    # the host's own profile stays; an owned one in use stays until its process is gone
    host, opts = _setup(tmp_path, {"host-own": "enforce"})
    (opts.dirs[0] / "k8s-c").write_text(profile_text("k8s-c"))
    sync(host, opts)
    assert set(host.loaded()) == {"host-own", "k8s-a", "k8s-b", "k8s-c"}
    (tmp_path / "root/proc/41/attr").mkdir(parents=True)
    (tmp_path / "root/proc/41/attr/current").write_text("k8s-b (enforce)\n")
    uninstall = LoadOptions((), opts.state_dir, unload=True)
    first = sync(host, uninstall)
    assert _actions(first) == {"k8s-a": "unloaded", "k8s-b": "kept", "k8s-c": "unloaded"}
    assert not first.ok  # an uninstall is done only when every owned profile is gone
    assert set(host.loaded()) == {"host-own", "k8s-b"}
    (tmp_path / "root/proc/41/attr/current").unlink()
    second = sync(host, uninstall)
    assert _actions(second) == {"k8s-b": "unloaded"} and second.ok
    assert host.loaded() == {"host-own": "enforce"}
    assert read_state(opts.state_dir).owned == {}
    assert _actions(sync(host, uninstall)) == {}


def test_complain_mode_reloads_every_owned_profile(tmp_path: Path) -> None:
    # the rollback: the same directory loaded again with --mode complain
    host, opts = _setup(tmp_path)
    sync(host, opts)
    complain_host = KernelDouble(host.root, names=NAMES, mode="complain")
    back = LoadOptions(opts.dirs, opts.state_dir, opts.base, mode="complain")
    assert _actions(sync(complain_host, back)) == {"k8s-a": "loaded", "k8s-b": "loaded"}
    assert complain_host.loaded() == {"k8s-a": "complain", "k8s-b": "complain"}


def test_mode_not_as_asked_is_a_problem(tmp_path: Path) -> None:
    host, opts = _setup(tmp_path)
    complain_host = KernelDouble(host.root, names=NAMES, mode="complain")
    result = sync(complain_host, opts)
    assert {o.action for o in result.outcomes} == {"unverified"}
    assert "loaded in complain mode, not enforce" in result.outcomes[0].message


def test_unreadable_state_stops_the_pass(tmp_path: Path) -> None:
    host, opts = _setup(tmp_path)
    opts.state_dir.mkdir()
    (opts.state_dir / "state.json").write_text("{")
    with pytest.raises(AaprofError, match="not a loader state"):
        sync(host, opts)
    assert host.loaded() == {}


def test_status_metrics_and_readiness(tmp_path: Path) -> None:
    host, opts = _setup(tmp_path)
    write_status(opts.state_dir, sync(host, opts))
    status = json.loads((opts.state_dir / "status.json").read_text())
    assert status["ok"] is True and len(status["profiles"]) == 2
    metrics = (opts.state_dir / "metrics.prom").read_text()
    assert 'aaprof_node_profiles{action="loaded"} 2' in metrics
    assert "aaprof_node_ok 1" in metrics
    assert (opts.state_dir / "ready").is_file()
    write_status(opts.state_dir, None, "securityfs is not mounted")
    assert not (opts.state_dir / "ready").exists()


def test_cli_without_kernel_support_fails_clearly(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root", securityfs=False)
    (tmp_path / "p").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "aaprof", "node", "load", str(tmp_path / "p"), "--root", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "securityfs is not mounted" in done.stderr
    assert not (root / "var/lib/aaprof/node/ready").exists()
    assert json.loads((root / "var/lib/aaprof/node/status.json").read_text())["ok"] is False
