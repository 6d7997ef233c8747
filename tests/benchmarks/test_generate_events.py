"""The `aaprof generate` benchmark's generator: complain mode, a few profiles, 10k accesses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GENERATE = REPO / "benchmarks" / "generate_events.py"
RECORDS = 3000
LOGPROF_CONF = "/etc/apparmor/logprof.conf"
RECORD = re.compile(
    r'type=AVC msg=audit\(\d+\.\d{3}:(\d+)\): apparmor="(ALLOWED|STATUS)" operation="\w+"'
    r'(?: info="[^"]*")?(?: error=-?\d+)? profile=("[^"]*"|[0-9A-F]+)(?: .*)? pid=\d+ comm="[^"]*"'
)
STAMP_PID_COMM = re.compile(r'^type=AVC msg=audit\([^)]*\): | pid=\d+ comm="[^"]*"')


def generate(outdir: Path, records: int = RECORDS) -> Path:
    subprocess.run(
        [sys.executable, str(GENERATE), str(outdir), "--records", str(records)],
        check=True,
        capture_output=True,
    )
    return outdir / "audit.log"


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("generate"))


def decode(value: str) -> str:
    return value[1:-1] if value.startswith('"') else bytes.fromhex(value).decode("utf-8")


def test_every_line_is_a_complain_mode_record(log: Path) -> None:
    lines = log.read_text(encoding="ascii").splitlines()
    assert len(lines) == RECORDS
    matches = [RECORD.match(line) for line in lines]
    assert all(matches), next(line for line, m in zip(lines, matches, strict=True) if not m)
    serials = [int(m.group(1)) for m in matches if m]
    assert serials == sorted(set(serials))
    modes = [m.group(2) for m in matches if m]
    assert modes.count("ALLOWED") > 0.95 * RECORDS, "complain mode: ALLOWED, STATUS for loads"


def test_a_few_profiles_one_hex_encoded(log: Path) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from generate_events import PROFILES

    text = log.read_text(encoding="ascii")
    raw = set(re.findall(r' profile=("[^"]*"|[0-9A-F]+) ', text))
    names = {decode(v) for v in raw}
    assert names - {"unconfined"} == set(PROFILES)
    assert any(not v.startswith('"') for v in raw), "a name with a space is written in hex"
    operations = set(re.findall(r'operation="(\w+)"', text))
    assert {"open", "exec", "capable", "connect", "signal", "ptrace", "mount"} <= operations


def test_about_ten_thousand_distinct_accesses() -> None:
    """Without its timestamp, pid and comm, a record is one access; the draws give about 10k."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import random

    from generate_events import DEFAULT_DISTINCT, DEFAULT_SEED, complain_accesses, make_profiles

    rng = random.Random(DEFAULT_SEED)
    accesses = complain_accesses(rng, make_profiles(rng), DEFAULT_DISTINCT)
    assert 9_500 <= len({(a.head, a.tail) for a in accesses}) <= 10_500


def test_records_repeat_accesses_with_a_long_tail(log: Path) -> None:
    accesses = [STAMP_PID_COMM.sub("", line) for line in log.read_text("ascii").splitlines()]
    distinct = len(set(accesses))
    assert 500 < distinct < RECORDS, "hot accesses repeat, the tail does not"


def test_same_seed_same_bytes(tmp_path: Path, log: Path) -> None:
    again = generate(tmp_path)
    assert again.read_bytes() == log.read_bytes()


def test_aa_logprof_engine_proposes_rules_for_every_profile(tmp_path: Path, log: Path) -> None:
    """The reference driver runs Debian's aa-logprof engine on the log without a terminal."""
    probe = [sys.executable, "-c", "import apparmor.aa"]
    if subprocess.run(probe, check=False).returncode or not Path(LOGPROF_CONF).exists():
        pytest.fail("no aa-logprof engine: apt-get install python3-apparmor apparmor-utils")
    driver = str(REPO / "benchmarks" / "logprof_engine.py")
    profiles = tmp_path / "profiles"
    subprocess.run([sys.executable, driver, "setup", str(profiles), str(log)], check=True)
    run = subprocess.run(
        [sys.executable, driver, "run", str(profiles), str(log)],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(run.stdout)
    sys.path.insert(0, str(REPO / "benchmarks"))
    from generate_events import PROFILES

    assert set(result["profiles"]) == set(PROFILES)
    assert all({"file", "capability"} <= set(c) for c in result["profiles"].values())
    assert sum(n for *_, n in result["lines"]) == RECORDS
