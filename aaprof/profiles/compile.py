"""Compile policy text with AppArmor's own `apparmor_parser`, without loading it into a kernel."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from aaprof.errors import AaprofError

PARSER = "apparmor_parser"
INSTALL_HINT = "apt-get install apparmor"
DEFAULT_BASE = Path("/etc/apparmor.d")
# apparmor_parser prints this on every run on a kernel without AppArmor (or without its cache
# interface); it is noise, not a diagnostic about the policy.
_CACHE_NOISE = "Cache read/write disabled"
_TIMEOUT_S = 300


def parser_path() -> str:
    """The `apparmor_parser` executable on PATH (or in /sbin, /usr/sbin).

    Raises:
        AaprofError: it is not installed.
    """
    found = shutil.which(PARSER) or shutil.which(PARSER, path="/usr/sbin:/sbin")
    if found is None:
        raise AaprofError(f"{PARSER} not found: install it ({INSTALL_HINT})")
    return found


def compile_policy(
    text: str,
    *,
    base: Path = DEFAULT_BASE,
    name: str = "<text>",
    features: Path | None = None,
    include_dirs: Sequence[Path] = (),
    complain: bool = False,
) -> bytes:
    """Compile policy text to the binary the kernel would load (`apparmor_parser -Q -K -S`).

    Args:
        text: the policy, as read (non-UTF-8 bytes as surrogate escapes).
        base: the profile directory: `include <x>` and `abi <x>` resolve against it.
        name: how error messages name the text.
        features: a features file (`abi/3.0`, a saved kernel feature set) that sets both the
            policy and the kernel feature set (`-M`). None lets apparmor_parser choose: the
            running kernel's features, else its config file's. On a machine without AppArmor,
            that silently drops every rule kind but file and capability rules, so pass one
            when the result must mean something there.
        include_dirs: directories searched for `include <x>` before `base` (`-I`), in order.
        complain: compile every profile in complain mode, whatever its flags say (`-C`).

    Returns:
        The compiled policy (all profiles in the text), as apparmor_parser writes it.

    Raises:
        AaprofError: apparmor_parser is missing or rejects the text (its message, named `name`).
    """
    args = ["-Q", "-K", "-S", "--base", str(base)]
    if features is not None:
        args += ["-M", str(features)]
    if complain:
        args.append("-C")
    for directory in (*include_dirs, base):
        args += ["-I", str(directory)]
    return _run(args, text, name)


def profile_names(
    text: str, *, base: Path = DEFAULT_BASE, name: str = "<text>", include_dirs: Sequence[Path] = ()
) -> tuple[str, ...]:
    """The names of the profiles the text defines, as the kernel will list them (`--names`).

    Raises:
        AaprofError: apparmor_parser is missing or rejects the text.
    """
    args = ["-Q", "-K", "--names", "--base", str(base)]
    for directory in (*include_dirs, base):
        args += ["-I", str(directory)]
    out = _run(args, text, name).decode("utf-8", "surrogateescape")
    return tuple(line for line in out.splitlines() if line)


def parser_version() -> str:
    """apparmor_parser's version (`4.0.1`), or what it printed when that has no version number.

    Raises:
        AaprofError: apparmor_parser is missing or fails.
    """
    out = _run(["--version"], "", PARSER).decode("utf-8", "replace")
    first = out.splitlines()[0] if out.strip() else ""
    return first.rsplit(" ", 1)[-1] if first[-1:].isdigit() else first


def expanded_variables(
    text: str,
    *,
    base: Path = DEFAULT_BASE,
    name: str = "<text>",
    include_dirs: Sequence[Path] = (),
) -> str:
    """The variables the text defines (its includes too), expanded: `--dump=expanded-variables`.

    One `@name = "value" ...` line per variable, sorted by name. Arguments as for
    `compile_policy`.

    Raises:
        AaprofError: apparmor_parser is missing or rejects the text.
    """
    args = ["-Q", "-K", "--dump=expanded-variables", "--base", str(base)]
    for directory in (*include_dirs, base):
        args += ["-I", str(directory)]
    return _run(args, text, name).decode("utf-8", "surrogateescape")


def _run(args: list[str], text: str, name: str) -> bytes:
    try:
        done = subprocess.run(
            [parser_path(), *args],
            input=text.encode("utf-8", "surrogateescape"),
            capture_output=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AaprofError(f"{name}: {PARSER} took more than {_TIMEOUT_S} s") from exc
    if done.returncode != 0:
        raise AaprofError(f"{name}: {PARSER}: {_diagnostics(done.stderr)}")
    return done.stdout


def _diagnostics(stderr: bytes) -> str:
    lines = stderr.decode("utf-8", "replace").splitlines()
    kept = [line.strip() for line in lines if line.strip() and _CACHE_NOISE not in line]
    return "; ".join(kept) or "failed without a message"
