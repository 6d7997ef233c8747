"""Debian profiles and the libapparmor corpus: each parses; its rendering compiles the same."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import shared_corpus

from aaprof.errors import AaprofError
from aaprof.model.profile import PolicyFile
from aaprof.profiles.build import parse_policy
from aaprof.profiles.check import check_text
from aaprof.profiles.includes import Includes
from aaprof.profiles.render import render_policy
from profiles.compiled import (
    BASE,
    PACKAGES_HINT,
    PolicySource,
    corpus_sources,
    debian_sources,
    difference,
    fingerprint,
    missing_packages,
    require_parser,
)

CORPUS = shared_corpus.CORPUS / "libapparmor-test_multi"
DEBIAN = debian_sources()
CORPUS_SOURCES = corpus_sources(CORPUS)
SOURCES = DEBIAN + CORPUS_SOURCES


@functools.cache
def _parsed(source: PolicySource) -> PolicyFile:
    return parse_policy(source.read(), filename=str(source.path))


@functools.cache
def _reference(source: PolicySource) -> bytes | AaprofError:
    try:
        return fingerprint(source, source.read())
    except AaprofError as exc:
        return exc


def test_debian_packages_installed() -> None:
    missing = missing_packages()
    assert not missing, f"not installed: {' '.join(missing)}; run {PACKAGES_HINT}"
    assert DEBIAN, "the packages are installed but dpkg-query -L lists no policy files"


def test_corpus_present(corpus: Path) -> None:
    assert CORPUS_SOURCES, f"no *.profile files in {CORPUS}"


# ---- the harness itself: it compares what it should, and can tell a difference ------------


def _source(include: str) -> PolicySource:
    return next(s for s in DEBIAN if s.include == include or s.path == BASE / include)


@pytest.mark.parametrize(
    "include",
    ["bin.ping", "abstractions/base", "abstractions/ubuntu-browsers.d/java", "tunables/home"],
)
def test_identity_round_trip_is_equivalent(include: str) -> None:
    require_parser()
    source = _source(include)
    assert fingerprint(source, source.read()) == _reference(source)


@pytest.mark.parametrize(
    ("include", "old", "new"),
    [
        ("bin.ping", "/etc/modules.conf r,", "/etc/modules.conf rw,"),
        ("bin.ping", "network inet6 raw,", "network inet6 dgram,"),
        ("usr.sbin.dnsmasq", "signal (receive)", "signal (send)"),
        ("abstractions/base", "/dev/null                      rw,", "/dev/null r,"),
        ("abstractions/ubuntu-browsers.d/java", "/etc/java-", "/etc/jav-"),
        ("abstractions/dbus", "bus=system", "bus=session"),
        ("tunables/home", "/home/", "/house/"),
        ("tunables/run", "/var/run/", "/var/rn/"),
    ],
)
def test_a_changed_rule_compiles_differently(include: str, old: str, new: str) -> None:
    require_parser()
    source = _source(include)
    text = source.read()
    assert old in text, f"{source.path} no longer holds {old!r}: pick another rule"
    assert fingerprint(source, text.replace(old, new, 1)) != _reference(source)


# ---- the acceptance checks --------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.id)
def test_parses(source: PolicySource) -> None:
    assert isinstance(_parsed(source), PolicyFile)


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.id)
def test_rendering_compiles_the_same(source: PolicySource) -> None:
    require_parser()
    rendered = render_policy(_parsed(source))
    reference = _reference(source)
    if isinstance(reference, AaprofError):
        # apparmor_parser 3.0.8 rejects 4.x syntax (mqueue, userns, io_uring, network
        # access lists): nothing to compare, but the rendering must not become valid by
        # losing what made the original invalid.
        with pytest.raises(AaprofError):
            fingerprint(source, rendered)
        return
    try:
        compiled = fingerprint(source, rendered)
    except AaprofError as exc:
        pytest.fail(f"the rendering does not compile: {exc}\n--- rendered:\n{rendered}")
    assert compiled == reference, (
        f"{source.path}: the rendering compiles to a different policy "
        f"({difference(reference, compiled)})\n--- rendered:\n{rendered}"
    )


@pytest.mark.parametrize("source", DEBIAN, ids=lambda s: s.id)
def test_check_agrees_with_apparmor_parser(source: PolicySource) -> None:
    """aaprof's own verdict (no apparmor_parser) is apparmor_parser 3.0.8's, file by file."""
    require_parser()
    problems = check_text(
        source.read(),
        filename=str(source.path),
        includes=Includes((BASE,)),
        fragment=source.kind != "profile",
    )
    reference = _reference(source)
    if isinstance(reference, AaprofError):
        assert problems, f"apparmor_parser rejects {source.path}, aaprof does not: {reference}"
    else:
        assert not problems, f"aaprof rejects {source.path}, apparmor_parser does not: {problems}"
