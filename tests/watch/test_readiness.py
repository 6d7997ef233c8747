"""Readiness on a node: a record's rule is new when neither seen before (kept in the state,
across restarts) nor allowed by the profile as loaded (--profiles); the state of the last
release is migrated."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from aaprof.watch.metrics import NEW_LAST, NEW_RULES, REPLICAS
from aaprof.watch.state import DATABASE, VERSION, State
from watch.records import SEC, audit_line, hostile_line

FIXTURES = Path(__file__).parent / "fixtures"
PROFILE = "aaprof.web.shop-7d9f8c6b5d-x2x4z.nginx"


def allowed(serial: int, name: str, *, profile: str = PROFILE, pid: int = 4242) -> bytes:
    """A complain-mode record (ALLOWED) of a read of `name`, stamped SEC + serial."""
    line = audit_line(serial, name=name, profile=profile, pid=pid, stamp=SEC + serial)
    return line.replace(b'apparmor="DENIED"', b'apparmor="ALLOWED"')


def watch(log: Path, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aaprof", "watch", str(log), "--state", str(state), "--once",
         "--no-stdout", *extra],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def readiness(state: Path) -> dict[str, dict[tuple[str, ...], float]]:
    db = State(state)
    try:
        counts = db.counts()
    finally:
        db.close()
    return {m: counts.get(m, {}) for m in (NEW_RULES, NEW_LAST, REPLICAS)}


def only(values: dict[tuple[str, ...], float]) -> float:
    assert len(values) == 1, values
    return next(iter(values.values()))


def test_a_rule_is_new_once_and_stays_seen_across_a_restart(tmp_path: Path) -> None:
    log, state = tmp_path / "audit.log", tmp_path / "state"
    log.write_bytes(
        allowed(1, "/etc/a") + allowed(2, "/etc/a") + allowed(3, "/etc/b") + allowed(4, "/etc/a")
    )
    done = watch(log, state)
    assert done.returncode == 0, done.stderr
    seen = readiness(state)
    assert only(seen[NEW_RULES]) == 2  # /etc/a at 1, /etc/b at 3
    assert only(seen[NEW_LAST]) == SEC + 3
    key = next(iter(seen[NEW_RULES]))
    assert key[3:] == (PROFILE, "allowed")
    # restarted: the rules seen are kept; a record of one is not new, a third rule is
    with log.open("ab") as f:
        f.write(allowed(10, "/etc/b") + allowed(11, "/etc/a"))
    assert watch(log, state).returncode == 0
    assert readiness(state)[NEW_RULES] == seen[NEW_RULES]
    assert readiness(state)[NEW_LAST] == seen[NEW_LAST]
    with log.open("ab") as f:
        f.write(allowed(20, "/etc/c"))
    assert watch(log, state).returncode == 0
    after = readiness(state)
    assert only(after[NEW_RULES]) == 3
    assert only(after[NEW_LAST]) == SEC + 20


def test_a_rule_the_loaded_profile_allows_is_not_new(tmp_path: Path) -> None:
    log, state, profiles = tmp_path / "audit.log", tmp_path / "state", tmp_path / "profiles"
    profiles.mkdir()
    (profiles / PROFILE).write_text(
        f"abi <abi/3.0>,\nprofile {PROFILE} flags=(complain) {{\n  /etc/a r,\n  /etc/b* r,\n}}\n"
    )
    log.write_bytes(allowed(1, "/etc/a") + allowed(2, "/etc/bee") + allowed(3, "/etc/c"))
    done = watch(log, state, "--profiles", str(profiles))
    assert done.returncode == 0, done.stderr
    assert "read 1 loaded profile(s)" in done.stderr
    seen = readiness(state)
    assert only(seen[NEW_RULES]) == 1  # /etc/c only
    assert only(seen[NEW_LAST]) == SEC + 3


def test_a_profile_directory_that_does_not_parse_is_said_and_allows_nothing(
    tmp_path: Path,
) -> None:
    log, state, profiles = tmp_path / "audit.log", tmp_path / "state", tmp_path / "profiles"
    profiles.mkdir()
    (profiles / PROFILE).write_text(f"profile {PROFILE} {{\n  /etc/a r\n")
    log.write_bytes(allowed(1, "/etc/a"))
    done = watch(log, state, "--profiles", str(profiles))
    assert done.returncode == 0, done.stderr
    assert f"{profiles / PROFILE}:" in done.stderr
    assert "no profile of" in done.stderr
    assert only(readiness(state)[NEW_RULES]) == 1


def test_a_state_of_schema_1_is_migrated_and_learns_rules_from_then(tmp_path: Path) -> None:
    fixture = FIXTURES / "state-v1"
    log = Path("/tmp/aaprof-state-v1/audit.log")  # the path its checkpoint names
    log.parent.mkdir(exist_ok=True)
    staged = log.with_name(f"audit.log.{tmp_path.name}")
    shutil.copyfile(fixture / "audit.log", staged)
    staged.replace(log)
    state = tmp_path / "state"
    state.mkdir()
    shutil.copyfile(fixture / DATABASE, state / DATABASE)
    conn = sqlite3.connect(state / DATABASE)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    before = conn.execute("SELECT metric, labels, value FROM counts").fetchall()
    conn.close()
    with log.open("ab") as f:
        f.write(allowed(1, "/etc/a", profile="aaprof.shop.web.nginx"))
    done = watch(log, state)
    assert done.returncode == 0, done.stderr
    assert f"schema version 1 to {VERSION}" in done.stderr
    conn = sqlite3.connect(state / DATABASE)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == VERSION == 2
    rules = conn.execute("SELECT profile, rule FROM rules_seen").fetchall()
    after = set(conn.execute("SELECT metric, labels, value FROM counts").fetchall())
    conn.close()
    assert rules == [(b"aaprof.shop.web.nginx", b"/etc/a r,")]  # as bytes, kept exactly
    assert {(m, labels) for m, labels, _ in before} <= {(m, labels) for m, labels, _ in after}
    assert only(readiness(state)[NEW_RULES]) == 1


def test_a_hostile_profile_and_path_are_kept_exactly_across_a_restart(tmp_path: Path) -> None:
    log, state = tmp_path / "audit.log", tmp_path / "state"
    profile, name = b'aaprof.x\xff\n\xfe"}', b"/tmp/\xc3(\n/etc/a r,\n"
    log.write_bytes(hostile_line(1, profile, name, b"sh"))
    done = watch(log, state)
    assert done.returncode == 0, done.stderr
    with log.open("ab") as f:
        f.write(hostile_line(2, profile, name, b"sh") + hostile_line(3, profile, b"/x", b"sh"))
    done = watch(log, state)
    assert done.returncode == 0, done.stderr
    assert only(readiness(state)[NEW_RULES]) == 2  # the first name once, then /x
