"""ProcResolver against a fake proc tree in tmp_path."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from aaprof.containers.cgroup import container_from_cgroup
from aaprof.containers.proc import ProcResolver
from aaprof.errors import AaprofError
from aaprof.model.event import Container

UID = "26ba375c-8d4e-4f0a-9b1c-2d3e4f5a6b7c"
WEB = hashlib.sha256(b"web").hexdigest()
DB = hashlib.sha256(b"db").hexdigest()


def cgroup_of(cid: str) -> str:
    slice_ = f"kubepods-burstable-pod{UID.replace('-', '_')}.slice"
    return f"0::/kubepods.slice/kubepods-burstable.slice/{slice_}/cri-containerd-{cid}.scope\n"


def add_process(root: Path, pid: int, cgroup: str, starttime: int, comm: str = "nginx") -> Path:
    """Write `<root>/<pid>/{stat,cgroup}` as the kernel lays them out (starttime is field 22)."""
    directory = root / str(pid)
    directory.mkdir(exist_ok=True)
    rest = f"S 1 {pid} {pid} 0 -1 4194560 1234 0 0 0 5 3 0 0 20 0 1 0 {starttime} 12345678 456"
    (directory / "stat").write_text(f"{pid} ({comm}) {rest} 18446744073709551615\n")
    (directory / "cgroup").write_text(cgroup)
    return directory


@pytest.fixture
def proc(tmp_path: Path) -> Path:
    root = tmp_path / "proc"
    root.mkdir()
    return root


def test_resolves_a_container_process(proc: Path) -> None:
    add_process(proc, 4242, cgroup_of(WEB), starttime=1000)
    assert ProcResolver(proc).resolve(4242) == Container(id=WEB, runtime="containerd", pod_uid=UID)


def test_host_process_is_none(proc: Path) -> None:
    add_process(proc, 1, "0::/init.scope\n", starttime=1, comm="systemd")
    assert ProcResolver(proc).resolve(1) is None


def test_missing_or_invalid_pid_is_none(proc: Path) -> None:
    resolver = ProcResolver(proc)
    assert resolver.resolve(999) is None
    assert resolver.resolve(None) is None
    assert resolver.resolve(0) is None
    assert resolver.resolve(-5) is None


def test_cached_while_starttime_is_unchanged(proc: Path) -> None:
    directory = add_process(proc, 4242, cgroup_of(WEB), starttime=1000)
    resolver = ProcResolver(proc)
    first = resolver.resolve(4242)
    (directory / "cgroup").write_text(cgroup_of(DB))  # not re-read: same process
    assert resolver.resolve(4242) == first
    assert first is not None
    assert first.id == WEB


def test_pid_reuse_is_detected_by_starttime(proc: Path) -> None:
    add_process(proc, 4242, cgroup_of(WEB), starttime=1000)
    resolver = ProcResolver(proc)
    before = resolver.resolve(4242)
    add_process(proc, 4242, cgroup_of(DB), starttime=2000, comm="postgres")
    after = resolver.resolve(4242)
    assert before is not None
    assert after is not None
    assert (before.id, after.id) == (WEB, DB)


def test_pid_reused_by_a_host_process(proc: Path) -> None:
    add_process(proc, 4242, cgroup_of(WEB), starttime=1000)
    resolver = ProcResolver(proc)
    assert resolver.resolve(4242) is not None
    add_process(proc, 4242, "0::/system.slice/cron.service\n", starttime=3000, comm="cron")
    assert resolver.resolve(4242) is None


def test_vanished_process_is_none_even_after_caching(proc: Path) -> None:
    directory = add_process(proc, 4242, cgroup_of(WEB), starttime=1000)
    resolver = ProcResolver(proc)
    assert resolver.resolve(4242) is not None
    for child in directory.iterdir():
        child.unlink()
    directory.rmdir()
    assert resolver.resolve(4242) is None


def test_reuse_between_the_two_stat_reads_is_not_trusted(
    proc: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_process(proc, 4242, cgroup_of(WEB), starttime=1000)

    def exits_and_is_reused(text: str) -> Container | None:
        # The process exits while its cgroup is parsed; a new one takes the pid.
        add_process(proc, 4242, cgroup_of(DB), starttime=5000)
        return container_from_cgroup(text)

    monkeypatch.setattr("aaprof.containers.proc.container_from_cgroup", exits_and_is_reused)
    resolver = ProcResolver(proc)
    assert resolver.resolve(4242) is None
    monkeypatch.undo()
    found = resolver.resolve(4242)
    assert found is not None
    assert found.id == DB


def test_comm_with_spaces_and_parentheses(proc: Path) -> None:
    directory = add_process(proc, 77, cgroup_of(WEB), starttime=1000, comm="my (odd) app )")
    resolver = ProcResolver(proc)
    assert resolver.resolve(77) is not None
    (directory / "cgroup").write_text(cgroup_of(DB))
    cached = resolver.resolve(77)  # starttime parsed past the last ')' → still cached
    assert cached is not None
    assert cached.id == WEB


def test_unreadable_cgroup_is_none(proc: Path) -> None:
    directory = add_process(proc, 4242, cgroup_of(WEB), starttime=1000)
    (directory / "cgroup").unlink()
    (directory / "cgroup").mkdir()  # reading it fails with an OSError, as EACCES would
    assert ProcResolver(proc).resolve(4242) is None


def test_tree_without_stat_still_resolves_uncached(proc: Path) -> None:
    directory = proc / "10"
    directory.mkdir()
    (directory / "cgroup").write_text(cgroup_of(WEB))
    resolver = ProcResolver(proc)
    first = resolver.resolve(10)
    (directory / "cgroup").write_text(cgroup_of(DB))
    second = resolver.resolve(10)
    assert first is not None
    assert second is not None
    assert (first.id, second.id) == (WEB, DB)


def test_cache_is_bounded(proc: Path) -> None:
    web = add_process(proc, 1, cgroup_of(WEB), starttime=10)
    add_process(proc, 2, cgroup_of(DB), starttime=20)
    resolver = ProcResolver(proc, cache_size=1)
    resolver.resolve(1)
    resolver.resolve(2)  # evicts pid 1
    (web / "cgroup").write_text(cgroup_of(DB))
    found = resolver.resolve(1)
    assert found is not None
    assert found.id == DB


def test_missing_proc_root_raises_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-proc"
    with pytest.raises(AaprofError, match=r"no-such-proc.*does not exist"):
        ProcResolver(missing)


def test_proc_root_that_is_a_file_raises(tmp_path: Path) -> None:
    a_file = tmp_path / "proc"
    a_file.write_text("")
    with pytest.raises(AaprofError, match="is not a directory"):
        ProcResolver(a_file)


def test_live_proc_self_resolves_without_error() -> None:
    # On any Linux host: our own process is readable; in a container it may even be attributed.
    found = ProcResolver(Path("/proc")).resolve(os.getpid())
    text = Path("/proc/self/cgroup").read_text()
    assert found is None or (found.id is not None and found.id in text)
