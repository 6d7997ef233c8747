"""The benchmark's generator writes well-formed, deterministic logs that libapparmor reads."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
GENERATE = REPO / "benchmarks" / "generate.py"
REFERENCE = REPO / "benchmarks" / "libapparmor_summary.py"
RECORDS = 2000
KERN_PREFIX = re.compile(r"^Nov \d\d \d\d:\d\d:\d\d node-7 (kernel|systemd\[1\]): ")
HEX_VALUE = re.compile(r" (?:name|profile|target)=[0-9A-F]{6,} ")


def generate(outdir: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, str(GENERATE), str(outdir), "--records", str(RECORDS), *args],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("bench")
    generate(outdir, "--mix", "clean")
    return outdir


@pytest.fixture(scope="module")
def libapparmor() -> ModuleType:
    try:
        import LibAppArmor
    except ImportError:
        pytest.fail(
            "LibAppArmor (libapparmor's Python binding) is not importable: "
            "apt-get install python3-libapparmor (./dev.sh test installs it), and use a venv "
            "made from /usr/bin/python3 with --system-site-packages"
        )
    module: ModuleType = LibAppArmor
    return module


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="ascii").splitlines()


def test_audit_log_holds_only_apparmor_records(data: Path) -> None:
    records = lines(data / "audit.log")
    assert len(records) == RECORDS
    assert all(re.match(r"type=AVC msg=audit\(\d+\.\d{3}:\d+\): apparmor=\"", r) for r in records)


def test_audit_log_has_the_mix(data: Path) -> None:
    text = (data / "audit.log").read_text(encoding="ascii")
    operations = set(re.findall(r'operation="(\w+)"', text))
    assert {"open", "capable", "signal", "ptrace", "exec", "connect", "mount"} <= operations
    assert {"DENIED", "ALLOWED", "STATUS"} <= set(re.findall(r'apparmor="(\w+)"', text))
    assert HEX_VALUE.search(text), "some names should be hex-encoded, as the kernel does"
    assert "class=" not in text, "the default layout is Debian 12's kernel's"
    serials = [int(s) for s in re.findall(r"audit\(\d+\.\d+:(\d+)\)", text)]
    assert serials == sorted(set(serials))


def test_kern_log_is_ninety_percent_noise(data: Path) -> None:
    kern = lines(data / "kern.log")
    assert len(kern) == RECORDS
    assert all(KERN_PREFIX.match(line) for line in kern)
    flags = ["apparmor=" in line for line in kern]
    assert sum(flags) == RECORDS // 10
    assert all(sum(flags[i : i + 10]) == 1 for i in range(0, RECORDS, 10))
    assert all(" audit: type=1400 audit(" in line for line in kern if "apparmor=" in line)
    assert any("type=1300" in line for line in kern) and any("type=1327" in line for line in kern)


def test_same_seed_same_bytes(tmp_path: Path, data: Path) -> None:
    generate(tmp_path, "--mix", "clean")
    for name in ("audit.log", "kern.log"):
        assert (tmp_path / name).read_bytes() == (data / name).read_bytes()


def test_with_class_writes_newer_kernels_layout(tmp_path: Path) -> None:
    generate(tmp_path, "--mix", "clean", "--with-class", "--only", "audit")
    text = (tmp_path / "audit.log").read_text(encoding="ascii")
    assert 'class="file"' in text and 'requested="' in text
    assert not (tmp_path / "kern.log").exists()


def test_libapparmor_reads_the_records(data: Path, libapparmor: ModuleType) -> None:
    records = lines(data / "audit.log") + [
        line for line in lines(data / "kern.log") if "apparmor=" in line
    ]
    rejected = []
    for line in records:
        record = libapparmor.parse_record(line)
        if record.event == libapparmor.AA_RECORD_INVALID:
            rejected.append(line)
        libapparmor.free_record(record)
    # libapparmor 3.0.8 rejects hex-encoded target= values (link targets with a space), only those.
    assert all(re.search(r" target=[0-9A-F]+$", line) for line in rejected), rejected[:3]
    assert len(rejected) <= len(records) // 200


def test_reference_counts_every_record(data: Path, libapparmor: ModuleType) -> None:
    out = subprocess.run(
        [sys.executable, str(REFERENCE), str(data / "kern.log")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    totals = dict(line.split("\t") for line in out.splitlines() if line.startswith("#"))
    rejected = int(totals["# rejected lines with apparmor="])
    assert int(totals["# records"]) + rejected == RECORDS // 10


@pytest.fixture(scope="module")
def realistic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("realistic")
    generate(outdir)  # the default mix
    return outdir


def test_realistic_mix_has_what_a_node_writes(realistic: Path) -> None:
    audit = (realistic / "audit.log").read_text(encoding="utf-8")
    assert "\x1dFSUID=" in audit, "auditd's ENRICHED tails"
    assert "type=USER_AVC msg=audit(" in audit and "msg='apparmor=" in audit, "D-Bus records"
    assert "type=SYSCALL msg=audit(" in audit and "type=PROCTITLE msg=audit(" in audit
    assert "//&" in audit, "stacked labels"
    assert re.search(r'name="/tmp/tmp\.[0-9a-f]{10}"', audit), "names that never repeat"
    assert HEX_VALUE.search(audit)
    profiles = set(re.findall(r" profile=(\S+)", audit))
    assert len(profiles) > 100
    kern = (realistic / "kern.log").read_text(encoding="utf-8").splitlines()
    dbus = [n for n, line in enumerate(kern) if "audit: type=1107 audit(" in line]
    assert dbus and any(kern[n + 1].startswith(" ") for n in dbus[:-1]), "split USER_AVC"
    journal = (realistic / "journal.txt").read_text(encoding="utf-8")
    assert re.search(r" audit\[\d+\]: AVC apparmor=", journal)
    rotated = sorted(p.name for p in (realistic / "rotated").iterdir())
    assert rotated == ["kern.log", "kern.log.1", "kern.log.2.gz"]


def test_knobs_override_the_mix(tmp_path: Path) -> None:
    generate(tmp_path, "--only", "audit", "--dbus", "0", "--companions", "0", "--enriched", "no")
    audit = (tmp_path / "audit.log").read_text(encoding="utf-8")
    assert "USER_AVC" not in audit and "SYSCALL" not in audit and "\x1d" not in audit
    assert len(audit.splitlines()) == RECORDS


def repeat_share(path: Path) -> float:
    from bench_modules import load

    share: float = load("realism").repeat_share(path.read_text(encoding="utf-8").splitlines())
    return share


def test_distinct_mix_rarely_repeats_a_record(tmp_path: Path, realistic: Path) -> None:
    """The distinct mix (issue 24): at most 5% of its AppArmor lines repeat once stamp and pid
    are set aside, where the realistic mix repeats most of its lines; the layout is the same."""
    generate(tmp_path, "--mix", "distinct")
    for log in ("audit.log", "kern.log"):
        assert repeat_share(tmp_path / log) <= 0.05, log
        assert repeat_share(realistic / log) > 0.15, log  # (more in a larger log)
    audit = (tmp_path / "audit.log").read_text(encoding="utf-8")
    assert "\x1dFSUID=" in audit and "type=USER_AVC msg=audit(" in audit and "//&" in audit
    assert re.search(r'name="/tmp/tmp\.[0-9a-f]{10}"', audit) and HEX_VALUE.search(audit)
    kern = (tmp_path / "kern.log").read_text(encoding="utf-8").splitlines()
    assert sum("apparmor=" in line for line in kern) >= RECORDS // 10
