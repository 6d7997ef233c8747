"""Hostile includes: every profile reader reads only bounded regular files inside its roots.

Each case runs `aaprof profile check` in a subprocess with a 1 GiB address-space limit and a
timeout far above its run time: before the one include resolver, `/dev/zero` grew memory
without bound (here: `MemoryError`, an internal error) and a FIFO blocked forever (here: the
timeout); an include of a file outside the profile directories quoted its bytes.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aaprof.errors import AaprofError
from aaprof.model import profile as m
from aaprof.profiles.build import parse_policy
from aaprof.profiles.check import check_text
from aaprof.profiles.includes import Includes, resolve_includes

SECRET = "root:$y$j9T$SECRETHASHNOBODYMAYSEE:19000:0:99999:7:::"
LIMIT_BYTES = 1 << 30
GUARD_S = 300  # a hang guard only: each run takes about a second


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_BYTES, LIMIT_BYTES))


def aaprof(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [sys.executable, "-m", "aaprof", *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            preexec_fn=_limited,
            timeout=GUARD_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"aaprof {' '.join(args)} blocked (more than {GUARD_S} s)")


def _require_parser() -> None:
    if shutil.which("apparmor_parser", path="/usr/sbin:/sbin") is None:
        pytest.fail("apparmor_parser is missing: apt-get install apparmor (./dev.sh test does)")


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(base, profile dir, a secret file outside both)."""
    base, profiles, elsewhere = tmp_path / "base", tmp_path / "profiles", tmp_path / "elsewhere"
    for d in (base / "abstractions", profiles, elsewhere):
        d.mkdir(parents=True)
    secret = elsewhere / "shadow"
    secret.write_text(SECRET + "\n")
    os.mkfifo(base / "abstractions" / "fifo")
    (base / "abstractions" / "zero").symlink_to("/dev/zero")
    (base / "abstractions" / "leak").symlink_to(secret)
    (base / "abstractions" / "ok").write_text("/etc/ok r,\n")
    return base, profiles, secret


def _profile(directory: Path, include: str) -> Path:
    path = directory / "p"
    path.write_text(f"profile p {{\n  include <abstractions/ok>\n  {include}\n}}\n")
    return path


@pytest.mark.parametrize(
    ("include", "why"),
    [
        ('include "/dev/zero"', "outside the profile directories"),
        ('include "/dev/urandom"', "outside the profile directories"),
        ('include "/proc/self/mem"', "outside the profile directories"),
        ("include <abstractions/zero>", "outside the profile directories"),
        ("include <abstractions/fifo>", "not a regular file (a FIFO)"),
        ("include <abstractions/leak>", "outside the profile directories"),
        ('include "{secret}"', "outside the profile directories"),
    ],
)
def test_hostile_include_is_one_line_at_its_place(
    tree: tuple[Path, Path, Path], include: str, why: str
) -> None:
    _require_parser()
    base, profiles, secret = tree
    path = _profile(profiles, include.format(secret=secret))
    done = aaprof("profile", "check", str(path), "--base", str(base))
    assert done.returncode == 1, done.stderr
    assert "internal error" not in done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith(f"{path}:3:3: include "), done.stdout
    assert why in first and first.endswith("; not read"), first
    assert "SECRET" not in done.stdout + done.stderr
    # apparmor_parser is not run on it: it would block on the FIFO or quote the file
    assert "apparmor_parser skipped (an include aaprof does not read)" in done.stdout


def test_absolute_angle_include_stays_below_the_search_path(
    tree: tuple[Path, Path, Path],
) -> None:
    """`include <\\/x>` is `BASE//x` for apparmor_parser, never the host's /x."""
    _require_parser()
    base, profiles, secret = tree
    path = _profile(profiles, f"include <{secret}>")
    done = aaprof("profile", "check", str(path), "--base", str(base))
    assert f"include <{secret}> not found" in done.stdout
    assert "SECRET" not in done.stdout + done.stderr
    assert "apparmor_parser rejected" in done.stdout  # it does not find it either


def test_a_symlinked_profile_out_of_the_directory_is_not_read(
    tree: tuple[Path, Path, Path],
) -> None:
    base, profiles, secret = tree
    includes = Includes((base,), (profiles,))
    (profiles / "link").symlink_to(secret)
    with pytest.raises(AaprofError, match=r"link: outside the profile directories") as err:
        includes.read(profiles / "link")
    assert "SECRET" not in str(err.value)


def test_the_size_cap(tree: tuple[Path, Path, Path]) -> None:
    base, profiles, _ = tree
    (base / "abstractions" / "big").write_text("/etc/big r,\n" * 1000)
    path = _profile(profiles, "include <abstractions/big>")
    done = aaprof("profile", "check", str(path), "--base", str(base), "--max-file-size", "4096")
    assert "big: larger than 4096 bytes; not read" in done.stdout
    assert done.returncode == 1
    assert aaprof("profile", "check", str(path), "--base", str(base)).returncode == 0


def test_a_configmap_layout_resolves_inside_its_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ConfigMap volume: DIR/web -> ..data/web, ..data -> ..2024_01_01; all below DIR."""
    profiles = tmp_path / "profiles"
    version = profiles / "..2024_01_01"
    version.mkdir(parents=True)
    (version / "web").write_text('profile web {\n  include "inc"\n}\n')
    (version / "inc").write_text("/etc/web r,\n")
    (profiles / "..data").symlink_to(version.name)
    for name in ("web", "inc"):
        (profiles / name).symlink_to(f"..data/{name}")
    includes = Includes((tmp_path / "base",), (profiles,))
    text = includes.read(profiles / "web")
    monkeypatch.chdir(profiles)  # `include "inc"` opens ./inc, as apparmor_parser would
    assert check_text(text, filename=str(profiles / "web"), includes=includes) == ()


def test_relative_quoted_include_opens_from_the_working_directory(tmp_path: Path) -> None:
    """apparmor_parser passes `include "x"` to open(2): x is relative to where it runs, not to
    the including file nor to --base. Here the file sits elsewhere and only the working
    directory (below --base) holds inc.rules; both parsers find it."""
    _require_parser()
    base, profiles = tmp_path / "base", tmp_path / "profiles"
    work = base / "work"
    work.mkdir(parents=True)
    profiles.mkdir()
    (work / "inc.rules").write_text("/etc/from-cwd r,\n")
    (profiles / "inc.rules").write_text("/etc/next-to-the-file r\n")  # a syntax error
    path = profiles / "p"
    path.write_text('profile p {\n  include "inc.rules"\n}\n')
    done = aaprof("profile", "check", str(path), "--base", str(base), cwd=work)
    assert done.stdout.splitlines() == [f"{path}: aaprof ok; apparmor_parser ok"], done.stdout
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = aaprof("profile", "check", str(path), "--base", str(base), cwd=elsewhere)
    assert done.stdout.startswith(f'{path}:2:3: include "inc.rules" not found'), done.stdout
    assert "apparmor_parser rejected" in done.stdout


def test_every_reader_resolves_alike(tmp_path: Path) -> None:
    """check_text (check, node load, review) and resolve_includes (explain, generate's merge)
    follow the same include to the same file and refuse the same one."""
    base = tmp_path / "base"
    (base / "abstractions").mkdir(parents=True)
    (base / "abstractions" / "a").write_text("/etc/a r,\n")
    (base / "abstractions" / "zero").symlink_to("/dev/zero")
    includes = Includes((base,))
    good = parse_policy("profile p {\n  include <abstractions/a>\n}\n", filename="p")
    resolved = resolve_includes(good, includes)
    assert resolved.expansion(m.Include("abstractions/a", magic=True)) == (
        f"{base}/abstractions/a",
    )
    bad = "profile p {\n  include <abstractions/zero>\n}\n"
    with pytest.raises(AaprofError, match=r"^p: include <abstractions/zero>: .* not read$"):
        resolve_includes(parse_policy(bad, filename="p"), includes)
    (problem,) = check_text(bad, filename="p", includes=includes)
    assert problem.reason.startswith("include <abstractions/zero>: ")
