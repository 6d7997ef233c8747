"""The `profile check` benchmark: its profile is valid for both parsers and it reports both."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bench_modules import BENCHMARKS
from bench_modules import load as load_benchmark

from aaprof.profiles.check import check_text
from aaprof.profiles.includes import Includes

profile_check = load_benchmark("profile_check")


def test_the_generated_profile_is_valid_and_of_every_shape(tmp_path: Path) -> None:
    path = tmp_path / "big.profile"
    size = profile_check.write_profile(path, 400)
    assert size == len(path.read_bytes())
    assert check_text(path.read_text(), filename=str(path), includes=Includes((tmp_path,))) == ()
    text = path.read_text()
    for shape in ('"/srv/with space/', "@{DATA}/", "Px -> tool", "capability ", "network "):
        assert shape in text, shape


def test_it_reports_both_tools_and_the_targets(tmp_path: Path) -> None:
    if shutil.which("apparmor_parser", path="/usr/sbin:/sbin") is None:
        pytest.fail("apparmor_parser is missing: apt-get install apparmor (./dev.sh test does)")
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "profile_check.py"), "--rules", "400",
         "--out", str(tmp_path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    rows = [line for line in done.stdout.splitlines() if line.startswith("| `")]
    assert [r.split("|")[1].strip() for r in rows] == [
        "`aaprof profile check --no-compile`",
        "`apparmor_parser -Q -K`",
    ]
    assert re.search(
        r"aaprof / apparmor_parser: [\d.]+x wall \(target <= 3x: (NOT )?met\)", done.stdout
    )
