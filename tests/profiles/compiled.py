"""Test helper: the Debian policy set, and what "compiles to the same policy" means."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from aaprof.errors import AaprofError
from aaprof.profiles.compile import compile_policy, expanded_variables, parser_path

BASE = Path("/etc/apparmor.d")
EXTRA_PROFILES = Path("/usr/share/apparmor/extra-profiles")
# The feature set every compile uses: the ABI the Debian profiles declare. Without one,
# apparmor_parser on a kernel without AppArmor drops network, signal, ptrace, unix, mount and
# dbus rules without a word, so a broken rule of those kinds would still "compile the same".
FEATURES = BASE / "abi" / "3.0"
PACKAGES = ("apparmor", "apparmor-profiles", "apparmor-profiles-extra")
PACKAGES_HINT = "apt-get install " + " ".join(PACKAGES)
# Under BASE, files that are not policy text: abi/ holds feature files; READMEs are prose.
_NOT_POLICY_DIRS = ("abi",)
_WRAPPER = "aaprof-wrapper"
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True, slots=True)
class PolicySource:
    """One policy file and how it is compiled.

    `kind` is "profile" (compiled as it is), or for a file meant to be included, "abstraction",
    "tunable" or "snippet" (compiled through a wrapper profile that includes it); `include` is
    then its path under BASE, as `include <...>` names it.
    """

    path: Path
    kind: str
    include: str | None = None

    @property
    def id(self) -> str:
        """A short test id: the include path, or the file's name under its directory."""
        return self.include or f"{self.path.parent.name}/{self.path.name}"

    def read(self) -> str:
        """The file's text, non-UTF-8 bytes as surrogate escapes."""
        return self.path.read_bytes().decode("utf-8", "surrogateescape")


def require_parser() -> None:
    """Fail the calling test, saying how to install apparmor_parser, when it is missing."""
    try:
        parser_path()
    except AaprofError as exc:
        pytest.fail(f"{exc} (./dev.sh test installs it)")


def missing_packages() -> list[str]:
    """The packages of PACKAGES that dpkg does not list as installed."""
    if shutil.which("dpkg-query") is None:
        return list(PACKAGES)
    missing = []
    for package in PACKAGES:
        status = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package],
            capture_output=True,
            text=True,
            check=False,
        )
        if "ok installed" not in status.stdout:
            missing.append(package)
    return missing


def debian_sources() -> list[PolicySource]:
    """Every profile, abstraction, tunable and snippet the three Debian packages install."""
    if missing_packages():
        return []
    sources = []
    for package in PACKAGES:
        listing = subprocess.run(
            ["dpkg-query", "-L", package], capture_output=True, text=True, check=True
        )
        for line in listing.stdout.splitlines():
            source = _classify(Path(line))
            if source is not None:
                sources.append(source)
    return sorted(set(sources), key=lambda s: str(s.path))


def corpus_sources(directory: Path) -> list[PolicySource]:
    """The `*.profile` files of a corpus directory (empty when it is absent)."""
    if not directory.is_dir():
        return []
    return [PolicySource(path, "profile") for path in sorted(directory.glob("*.profile"))]


def _classify(path: Path) -> PolicySource | None:
    if not path.is_file() or path.name == "README":
        return None
    if path.parent == EXTRA_PROFILES:
        return PolicySource(path, "profile")
    if not path.is_relative_to(BASE):
        return None
    rel = path.relative_to(BASE)
    top = rel.parts[0]
    if len(rel.parts) == 1:
        return PolicySource(path, "profile")
    if top in _NOT_POLICY_DIRS or top == "local":
        return None
    kind = {"abstractions": "abstraction", "tunables": "tunable"}.get(top, "snippet")
    return PolicySource(path, kind, rel.as_posix())


def wrapper(source: PolicySource) -> str:
    """The profile that stands for an included file: it includes it, as Debian's profiles do."""
    assert source.include is not None
    if source.kind == "tunable":
        return (
            f"include <tunables/global>\ninclude <{source.include}>\n"
            f"profile {_WRAPPER} {{\n  include <abstractions/base>\n}}\n"
        )
    return f"include <tunables/global>\nprofile {_WRAPPER} {{\n  include <{source.include}>\n}}\n"


def fingerprint(source: PolicySource, text: str) -> bytes:
    """What `text` compiles to in the place of `source`: the equivalence the tests compare.

    A profile compiles on its own against BASE. An included file is written into an overlay
    directory searched before BASE (`-I`), with its siblings when its directory is itself
    included (`abstractions/ubuntu-browsers.d/`), and its wrapper is compiled; a tunable adds
    the expanded variables, each variable's values sorted.

    Raises:
        AaprofError: apparmor_parser rejects the text.
    """
    if source.include is None:
        return compile_policy(text, base=BASE, name=str(source.path), features=FEATURES)
    with tempfile.TemporaryDirectory(prefix="aaprof-overlay-") as tmp:
        overlay = Path(tmp)
        target = overlay / source.include
        target.parent.mkdir(parents=True)
        if len(Path(source.include).parts) > 2:
            for sibling in source.path.parent.iterdir():
                if sibling.is_file():
                    shutil.copyfile(sibling, target.parent / sibling.name)
        target.write_bytes(text.encode("utf-8", "surrogateescape"))
        name = f"{_WRAPPER} of {source.path}"
        binary = compile_policy(
            wrapper(source), base=BASE, name=name, features=FEATURES, include_dirs=[overlay]
        )
        if source.kind != "tunable":
            return binary
        variables = expanded_variables(
            wrapper(source), base=BASE, name=name, include_dirs=[overlay]
        )
    return binary + b"\0" + canonical_variables(variables).encode("utf-8", "surrogateescape")


def canonical_variables(dump: str) -> str:
    """An `expanded-variables` dump with each variable's values sorted (their order is moot)."""
    lines = []
    for line in dump.splitlines():
        name, _, values = line.partition(" = ")
        lines.append(f"{name} = {' '.join(sorted(_QUOTED.findall(values)))}")
    return "\n".join(lines)


def difference(reference: bytes, other: bytes) -> str:
    """A short account of where two fingerprints part, for an assertion message."""
    if reference == other:
        return "identical"
    common = next(
        (i for i, (a, b) in enumerate(zip(reference, other, strict=False)) if a != b),
        min(len(reference), len(other)),
    )
    return f"{len(reference)} vs {len(other)} bytes, first difference at byte {common}"
