"""Learning from stacked and namespaced labels: a record teaches only the member of the stack
that is aaprof's; a baseline it does not own is reported, never edited; peer rules match the
peer with or without a stacked suffix (and compile)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aaprof_cli import aaprof

from aaprof.engine import Session, Settings, suggest
from aaprof.engine.suggest import attributed_profile
from aaprof.errors import AaprofError
from aaprof.logs.records import Record
from aaprof.model import profile as m
from aaprof.model.event import Container, Event
from aaprof.profiles.aare import escape
from aaprof.profiles.build import parse_policy
from aaprof.profiles.compile import compile_policy, parser_path
from aaprof.profiles.render import render_rule

APP = "aaprof.shop.web.nginx"


def _open(profile: str, name: str = "/etc/app.conf", **kw: object) -> Event:
    fields: dict[str, object] = {
        "operation": "open",
        "class_": "file",
        "profile": profile,
        "name": name,
        "requested": "r",
        "denied": "r",
        "fsuid": 0,
        "ouid": 0,
    }
    fields.update(kw)
    return Event("DENIED", **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("label", "namespace", "owner"),
    [
        (f"{APP}//&unconfined", None, APP),  # 6.17's exec label
        (f"crio-default//&{APP}", None, APP),  # the app stacked on a runtime default
        (f"{APP}//&:lxd-c1:unconfined", None, APP),
        ("cri-containerd.apparmor.d//&unconfined", None, "cri-containerd.apparmor.d"),
        ("crio-default//&unprivileged_userns", None, "crio-default"),
        ("a//&b", None, None),  # two members, neither aaprof's: no guess
        (f"{APP}//&aaprof.shop.db.pg", None, None),
        ("test", "root//lxd-c1", ":lxd-c1:test"),  # a child namespace's profile
        ("test", "root", "test"),
        ("unconfined", "root//lxd-c1", None),
    ],
)
def test_a_record_teaches_the_member_that_is_aaprofs(
    label: str, namespace: str | None, owner: str | None
) -> None:
    assert attributed_profile(_open(label, namespace=namespace)) == owner


def test_a_baseline_is_never_learned_into() -> None:
    web = Container(namespace="shop", pod="web", name="nginx")
    base = _open("k8s-baseline", container=web)
    app = _open(APP, name="/etc/app.conf")
    stacked = _open(f"k8s-baseline//&{APP}", name="/srv/x")
    foreign = frozenset({"k8s-baseline"})
    unowned: dict[str, int] = {}
    out = suggest([base, app, stacked], per_container=True, foreign=foreign, unowned=unowned)
    assert [ps.profile for ps in out] == [APP]
    assert [render_rule(s.rule) for s in out[0].suggestions] == ["/etc/app.conf r,", "/srv/x r,"]
    assert unowned == {"k8s-baseline": 1}
    # without --stack-on the same record is the container's (per-container learning)
    assert attributed_profile(base, per_container=True) == APP


def test_the_session_reports_what_it_did_not_learn(tmp_path: Path) -> None:
    events = [_open("k8s-baseline"), _open("a//&b", name="/x"), _open(APP)]
    session = Session.from_records(
        [Record.of(e) for e in events],
        tmp_path / "out",
        settings=Settings(stack_on=("k8s-baseline",)),
    )
    assert [ps.profile for ps in session.suggestions] == [APP]
    assert session.warnings == (
        "1 distinct record of a//&b: reported, not learned (no one member of the stack a//&b "
        "is aaprof's to learn into)",
        "1 distinct record of k8s-baseline: reported, not learned (k8s-baseline is the "
        "baseline the app is stacked on (--stack-on), not aaprof's)",
    )


def _peer_event(operation: str, peer: str, **kw: object) -> Event:
    fields: dict[str, object] = {"operation": operation, "profile": APP, "peer": peer}
    fields.update(kw)
    return Event("DENIED", **fields)  # type: ignore[arg-type]


PEER_RULES = [
    (
        _peer_event(
            "signal",
            "cri-containerd.apparmor.d//&unconfined",
            class_="signal",
            denied="receive",
            signal="kill",
        ),
        'signal receive set=(kill) peer="{,**//&}cri-containerd.apparmor.d{,//&**}",',
    ),
    (
        _peer_event("signal", "t-a//&t-b", class_="signal", denied="receive", signal="term"),
        'signal receive set=(term) peer="{,**//&}t-a//&t-b{,//&**}",',
    ),
    (
        _peer_event(
            "ptrace", "crio-default//&unprivileged_userns", class_="ptrace", denied="readby"
        ),
        'ptrace readby peer="{,**//&}crio-default{,//&**}",',
    ),
    (
        _peer_event("signal", "unconfined", class_="signal", denied="receive", signal="term"),
        "signal receive set=(term) peer=unconfined,",
    ),
    (
        _peer_event(
            "dbus_method_call",
            "t-a",
            class_="dbus",
            denied="receive",
            bus="system",
            path="/a",
            interface="b.c",
            member="D",
        ),
        "dbus receive bus=system path=/a interface=b.c member=D "
        'peer=(label="{,**//&}t-a{,//&**}"),',
    ),
]


@pytest.mark.parametrize(("event", "text"), PEER_RULES)
def test_peer_rules_match_a_stacked_peer(event: Event, text: str) -> None:
    (ps,) = suggest([event])
    (s,) = ps.suggestions
    assert render_rule(s.rule) == text


def test_peer_rules_compile() -> None:
    try:
        parser_path()
    except AaprofError:
        pytest.skip("apparmor_parser is not installed (apt-get install apparmor)")
    rules = "\n".join(f"  {text}" for _, text in PEER_RULES)
    compile_policy(f"abi <abi/3.0>,\nprofile {APP} {{\n{rules}\n}}\n", name="peers")


def test_generate_stack_on_learns_the_app_layer_only(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text(
        'audit: type=1400 audit(1.0:1): apparmor="DENIED" operation="open" profile="base" '
        'name="/etc/base-denied" pid=1 comm="cat" requested_mask="r" denied_mask="r" '
        "fsuid=0 ouid=0\n"
        'audit: type=1400 audit(1.0:2): apparmor="ALLOWED" operation="open" profile="app" '
        'name="/etc/app.conf" pid=1 comm="cat" requested_mask="r" denied_mask="r" '
        "fsuid=0 ouid=0\n"
    )
    out = tmp_path / "out"
    args = ("--include-denied", "--stack-on", "base", "--out", str(out))
    done = aaprof("generate", str(log), *args)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (out / "profiles").iterdir()) == ["app"]
    assert "/etc/base-denied" not in (out / "profiles/app").read_text()
    assert "1 distinct record of base: reported, not learned" in done.stderr
    assert "no Kubernetes bundle with --stack-on: containerd refuses" in done.stderr
    assert not (out / "k8s").exists()


@pytest.mark.parametrize(
    "peer",
    [
        "x//&**",
        "x,\n  /** rwlkmix,\n}\nprofile evil {//&unconfined",
        'a"b//&c',
        "a) peer=(label=**//&b",
        "{a,b}//&unconfined",
        "@{HOME}//&x",
        "a//&:ns:*",
    ],
)
def test_a_stacked_peer_never_widens_or_injects(peer: str) -> None:
    """Whatever the label's text, the learnt rule is one rule (it parses back alone, and
    compiles) whose peer is the members escaped, between the two optional stack parts."""
    event = _peer_event("signal", peer, class_="signal", denied="receive", signal="term")
    (ps,) = suggest([event])
    (s,) = ps.suggestions
    text = f"abi <abi/3.0>,\nprofile p {{\n  {render_rule(s.rule)}\n}}\n"
    (profile,) = parse_policy(text).profiles()
    (rule,) = profile.rules()
    own = "//&".join(escape(x) for x in peer.split("//&") if x != "unconfined")
    assert isinstance(rule, m.SignalRule) and rule.peer == "{,**//&}" + own + "{,//&**}"
    try:
        parser_path()
    except AaprofError:
        return
    compile_policy(text, name="hostile-peer")
