"""The 142 `.profile` cases of libapparmor's test_multi: aaprof's rules against aa-logprof's."""

from __future__ import annotations

import shared_corpus

from aaprof.engine import apply, suggest
from aaprof.logs.reader import Reader
from aaprof.logs.sources import expand
from aaprof.model import profile as m
from aaprof.profiles.build import parse_policy
from aaprof.profiles.render import render_rule

CORPUS = shared_corpus.CORPUS / "libapparmor-test_multi"
CASES = sorted(p.stem for p in CORPUS.glob("*.profile"))

_NETWORK = "network: `network FAMILY TYPE,` compiles under abi/3.0 (ip=/port= is an alternative)"
_NULL = "a //null- learning child folds into its parent (its exec gets ix)"
_MKTEMP = "mktemp-style directory name generalised (it changes every run)"
_LINK = "link: `link NAME -> TARGET` instead of a bare `l` (aa-logprof's form is an alternative)"
_AUDIT = "AUDIT record: `audit` kept, and `owner` since fsuid == ouid (aa-logprof drops both here)"
_ROOT_OWNED = "no `owner` on a root-owned file only read, mapped or run (the image's file)"
_UNCONFINED = "no rules for the `unconfined` label (a profile of that name replaces unconfined)"
_STACKED_PEER = "peer=X written as {,**//&}X{,//&**}: it matches X stacked, as 6.17's exec labels"
# Every case where aaprof's rules differ from aa-logprof's, with the reason (docs/generate.md,
# "Differences from aa-logprof", justifies each kind).
DIFFERENCES: dict[str, str] = {
    "change_onexec_lp1648143": _UNCONFINED,
    **dict.fromkeys(
        [
            "file_inherit_network_lp1509030",
            "file_perm_network_lp1466812",
            "file_perm_network_receive_lp1577051",
            "file_perm_network_receive_lp1582374",
            *(f"testcase_network_{i:02d}" for i in range(1, 13)),
        ],
        _NETWORK,
    ),
    **dict.fromkeys([f"syslog_datetime_{i:02d}" for i in range(1, 19)], _NULL),
    **dict.fromkeys(
        ["syslog_audit_01", "testcase31", "testcase_dmesg_mkdir", "testcase_syslog_mkdir"],
        _MKTEMP,
    ),
    "testcase36": _AUDIT,
    **dict.fromkeys(
        [
            "avc_syslog_01",
            "testcase_dmesg_rename_src",
            "testcase_encoded_profile",
            "testcase_syslog_rename_src",
        ],
        _ROOT_OWNED,
    ),
    "testcase_dmesg_link_01": _LINK + "; " + _MKTEMP,
    "testcase_syslog_link_01": _LINK + "; " + _MKTEMP,
    "testcase_network_send_receive": _NETWORK + "; " + _NULL,
    **dict.fromkeys(
        ["testcase_ptrace_01", "testcase_signal_01", "testcase_signal_02"], _STACKED_PEER
    ),
}


def _flatten(profile: m.Profile, prefix: str = "") -> dict[str, set[str]]:
    name = prefix + profile.name
    out = {name: {render_rule(r) for r in profile.rules()}}
    for child in profile.children():
        out.update(_flatten(child, name + "//"))
    return {k: v for k, v in out.items() if v}


def expected(case: str) -> dict[str, set[str]]:
    """aa-logprof's rules by profile label (children as `parent//child`)."""
    policy = parse_policy((CORPUS / f"{case}.profile").read_text(), filename=case)
    out: dict[str, set[str]] = {}
    for profile in policy.profiles():
        out.update(_flatten(profile))
    return out


def ours(case: str) -> dict[str, set[str]]:
    """aaprof's default rules (no decisions file) by profile label."""
    events = list(Reader().events(expand([str(CORPUS / f"{case}.in")])))
    chosen = apply(suggest(events))
    return {
        name: {render_rule(r) for r in items if not isinstance(r, m.Include)}
        for name, items in chosen.items()
    }


def differing() -> dict[str, tuple[dict[str, set[str]], dict[str, set[str]]]]:
    """The cases whose rules differ: case → (ours, aa-logprof's)."""
    out = {}
    for case in CASES:
        mine, theirs = ours(case), expected(case)
        if mine != theirs:
            out[case] = (mine, theirs)
    return out


@shared_corpus.needs(CORPUS)
def test_corpus_has_all_cases() -> None:
    assert len(CASES) == 142


@shared_corpus.needs(CORPUS)
def test_every_difference_is_listed_with_its_reason() -> None:
    found = {case: _reason(*pair) for case, pair in differing().items()}
    assert found == DIFFERENCES


def _reason(mine: dict[str, set[str]], theirs: dict[str, set[str]]) -> str:
    """The kind of a difference, read off the two rule sets (the test's own classifier)."""
    ours_text = " ".join(sorted(r for rules in mine.values() for r in rules))
    reasons = []
    if not mine and "unconfined" in theirs:
        reasons.append(_UNCONFINED)
    if "network " in ours_text:
        reasons.append(_NETWORK)
    if " link " in f" {ours_text}":
        reasons.append(_LINK)
    if "audit owner" in ours_text:
        reasons.append(_AUDIT)
    if "/tmp/" in ours_text and "*" in ours_text:
        reasons.append(_MKTEMP)
    if '"{,**//&}' in ours_text:
        reasons.append(_STACKED_PEER)
    if any("//null-" in name for name in theirs) and set(mine) != set(theirs):
        reasons.append(_NULL)
    unowned = {k: {r.removeprefix("owner ") for r in v} for k, v in theirs.items()}
    if not reasons and mine == unowned:
        reasons.append(_ROOT_OWNED)
    return "; ".join(reasons) or "unexplained"


@shared_corpus.needs(CORPUS)
def test_equal_cases_count() -> None:
    assert len(CASES) - len(DIFFERENCES) == 92
