"""Property tests: generated models with hostile names survive render → parse, and compile."""

from __future__ import annotations

from pathlib import Path

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from aaprof.model import profile as m
from aaprof.profiles.build import parse_policy
from aaprof.profiles.compile import compile_policy
from aaprof.profiles.render import aare_escape, render_policy

HOSTILE = " \"'{},\n\t\r*?[]^\\#!()=@<>-/:\x00\x7f"
_chars = st.characters(codec="utf-8") | st.sampled_from([*HOSTILE, "\udc80", "\udcff", "é"])
_pieces = _chars | st.sampled_from(["@{", "->", "}\n/x rw,", '", deny /** w,'])
literal = st.lists(_pieces, min_size=1, max_size=10).map("".join)
name = literal.map(lambda s: "p" + aare_escape(s))
path = literal.map(lambda s: "/" + aare_escape(s).replace("\x00", "0"))
qualifiers = st.builds(
    m.Qualifiers,
    audit=st.booleans(),
    access=st.sampled_from([None, "allow", "deny"]),
    owner=st.booleans(),
)
plain_q = st.builds(
    m.Qualifiers, audit=st.booleans(), access=st.sampled_from([None, "allow", "deny"])
)
file_rule = st.builds(
    m.FileRule,
    qualifiers=qualifiers,
    path=path,
    perms=st.frozensets(st.sampled_from("rwlkm"), min_size=1),
)
exec_rule = st.builds(
    lambda p, perms, mode, target: m.FileRule(
        path=f"/{mode}{target or ''}{p}",  # one exec mode per path: AppArmor refuses conflicts
        perms=perms,
        exec_mode=mode,
        target=target if mode[0] in "PC" else None,
    ),
    path,
    st.frozensets(st.sampled_from("mr")),
    st.sampled_from(["ix", "Px", "Cx", "Pix", "Ux"]),
    st.none() | name,
)
rules = st.one_of(
    file_rule,
    exec_rule,
    st.builds(
        m.CapabilityRule, plain_q, st.frozensets(st.sampled_from(["chown", "kill", "setuid"]))
    ),
    st.builds(
        m.SignalRule,
        plain_q,
        st.frozensets(st.sampled_from(["send", "receive"])),
        st.frozensets(st.sampled_from(["term", "hup"])),
        st.none() | name,
    ),
    st.builds(
        m.PtraceRule,
        plain_q,
        st.frozensets(st.sampled_from(["read", "trace"])),
        st.none() | name,
    ),
    st.builds(
        m.UnixRule,
        plain_q,
        st.frozensets(st.sampled_from(["send", "connect"])),
        st.tuples(
            st.builds(
                m.Cond,
                st.just("addr"),
                st.tuples(literal.map(lambda s: "@" + aare_escape(s).replace("\x00", "0"))),
            )
        ),
        st.tuples(st.builds(m.Cond, st.just("label"), st.tuples(name))),
    ),
    st.builds(
        m.DbusRule,
        plain_q,
        st.frozensets(st.sampled_from(["send", "receive"])),
        st.tuples(st.builds(m.Cond, st.just("path"), st.tuples(path))),
    ),
    st.sampled_from([(None, None), ("inet", None), ("inet", "stream"), ("unix", "dgram")]).map(
        lambda dt: m.NetworkRule(domain=dt[0], type=dt[1])
    ),
    st.builds(m.ChangeProfileRule, target=name),
    st.builds(
        m.MountRule,
        plain_q,
        st.just("mount"),
        st.just(()),
        path.map(lambda p: p + "/"),
        path.map(lambda p: p + "/"),
    ),
)
comment = (
    st.text(_chars.filter(lambda c: c not in "\n\r"), max_size=10)
    .filter(lambda t: not t.startswith("include"))
    .map(m.Comment)
)
profiles = st.builds(
    m.Profile,
    name=name,
    flags=st.frozensets(st.sampled_from(["complain", "attach_disconnected", "mediate_deleted"])),
    body=st.lists(rules, max_size=6).map(tuple),
)
policies = st.builds(
    m.PolicyFile,
    st.lists(profiles, min_size=1, max_size=2, unique_by=lambda p: p.name).map(tuple),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies, st.lists(comment, max_size=2), st.lists(literal, max_size=3))
def test_render_then_parse_is_identity(
    policy: m.PolicyFile, comments: list[m.Comment], values: list[str]
) -> None:
    variable = m.Variable("V", tuple(aare_escape(v) for v in values))
    policy = m.PolicyFile((*comments, variable, *policy.items))
    text = render_policy(policy)
    assert parse_policy(text) == policy
    assert render_policy(parse_policy(text)) == text


FEATURES = Path("/etc/apparmor.d/abi/3.0")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies)
def test_every_rendered_profile_compiles(policy: m.PolicyFile) -> None:
    text = render_policy(policy)
    assert compile_policy(text, features=FEATURES)
