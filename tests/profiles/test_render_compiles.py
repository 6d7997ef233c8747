"""Generated profiles with hostile names render to text that apparmor_parser compiles."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aaprof.model import profile as m
from aaprof.profiles.build import parse_policy
from aaprof.profiles.compile import compile_policy
from aaprof.profiles.render import aare_escape, render_policy
from profiles.compiled import BASE, FEATURES, require_parser

# apparmor_parser takes 20-60 ms a call and each example makes three: keep the count moderate.
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=False
)

# Bytes 0x80-0xBF (continuation bytes) and 0xF8-0xFF never start a UTF-8 sequence, so these
# surrogate escapes stay non-UTF-8 whatever surrounds them.
NON_UTF8 = [chr(0xDC00 + b) for b in (*range(0x80, 0xC0), *range(0xF8, 0x100))]
HOSTILE = " \t\n\"'{}[]*?,\\^@#!:;=()<>|~$%&+-._"
LITERAL_CHAR = st.one_of(
    st.sampled_from(list(HOSTILE)),
    st.characters(min_codepoint=0x21, max_codepoint=0x7E),
    st.characters(min_codepoint=0x01, max_codepoint=0x1F),
    st.characters(min_codepoint=0xA0, max_codepoint=0x2FF),
    st.sampled_from(NON_UTF8),
)
literals = st.text(LITERAL_CHAR, min_size=1, max_size=20).map(lambda s: "/" + s)
# Profile names and labels: no `/` (hat separator) and a plain first character (`:` starts
# a namespace); the rest as hostile as a literal path.
NAME_CHAR = st.one_of(
    st.sampled_from(list(" \"'{}[]*?,\\^@#!:;=()<>|~$%&+-._")),
    st.characters(min_codepoint=0x30, max_codepoint=0x7A),
    st.characters(min_codepoint=0xA0, max_codepoint=0x2FF),
)
# apparmor_parser reads names as patterns too (`profile k8s-[` is a "bad regular expression"),
# so a model name is a pattern: the literal name, escaped.
names = st.text(NAME_CHAR, max_size=12).map(lambda s: aare_escape("k8s-" + s))
GLOBS = ["/srv/**", "/tmp/*/x?", "/a/{b,c}/[0-9]*", "@{HOME}/.config/**", "/proc/@{pid}/maps"]
CAPABILITIES = [
    "chown", "dac_override", "fowner", "kill", "setgid", "setuid", "net_bind_service",
    "net_admin", "net_raw", "sys_admin", "sys_ptrace", "sys_chroot", "mknod", "audit_write",
]  # fmt: skip
SIGNALS = ["hup", "int", "quit", "kill", "usr1", "usr2", "term", "chld", "cont", "stop", "rtmin+3"]
NETWORK = [
    (None, None), ("inet", None), ("inet", "stream"), ("inet", "dgram"), ("inet", "raw"),
    ("inet6", "stream"), ("inet", "tcp"), ("inet6", "udp"), ("unix", "stream"),
    ("netlink", "raw"), ("netlink", "dgram"), ("packet", "raw"),
]  # fmt: skip
EXEC_TRANSITIONS = ["px", "Px", "cx", "Cx", "pix", "Pix", "cix", "Cix", "pux", "PUx", "cux", "CUx"]
EXEC_PLAIN = ["ix", "ux", "Ux"]


def subsets(items: list[str], min_size: int = 0) -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(st.sampled_from(items), min_size=min_size, max_size=len(items))


qualifiers = st.builds(
    m.Qualifiers,
    audit=st.booleans(),
    access=st.sampled_from([None, "allow", "deny"]),
)
file_qualifiers = st.builds(
    m.Qualifiers,
    audit=st.booleans(),
    access=st.sampled_from([None, "allow", "deny"]),
    owner=st.booleans(),
)
perms = st.builds(
    lambda base, append: base | ({"a"} if append and "w" not in base else set()),
    subsets(list("rwlkm")),
    st.booleans(),
).filter(bool)


@st.composite
def file_rules(draw: st.DrawFn, path: str) -> m.FileRule:
    """A file rule on `path`; exec modes only here, where paths are unique (no x conflicts)."""
    q = draw(file_qualifiers)
    exec_mode = target = None
    if q.deny:
        exec_mode = draw(st.sampled_from([None, "x"]))
    else:
        exec_mode = draw(st.sampled_from([None, *EXEC_PLAIN, *EXEC_TRANSITIONS]))
        if exec_mode in EXEC_TRANSITIONS and exec_mode[0] in "pP":
            target = draw(st.none() | names)
    letters = draw(perms) if exec_mode is None else draw(st.just(frozenset()) | perms)
    return m.FileRule(q, aare_escape(path), frozenset(letters), exec_mode, target)


other_rules: st.SearchStrategy[m.Rule] = st.one_of(
    st.builds(m.FileRule, file_qualifiers, st.sampled_from(GLOBS), perms),
    st.builds(m.CapabilityRule, qualifiers, subsets(CAPABILITIES)),
    st.sampled_from(NETWORK).flatmap(
        lambda dt: st.builds(m.NetworkRule, qualifiers, domain=st.just(dt[0]), type=st.just(dt[1]))
    ),
    st.builds(
        m.SignalRule,
        qualifiers,
        subsets(["send", "receive"]),
        subsets(SIGNALS),
        st.none() | names,
    ),
    st.builds(
        m.PtraceRule,
        qualifiers,
        subsets(["read", "readby", "trace", "tracedby"]),
        st.none() | names,
    ),
    st.builds(
        m.UnixRule,
        qualifiers,
        subsets(["send", "receive", "connect", "accept"]),  # the accesses allowed with peer=
        st.sampled_from([(), (m.Cond("type", ("stream",)),), (m.Cond("type", ("dgram",)),)]),
        st.just(()) | names.map(lambda n: (m.Cond("label", (n,)),)),
    ),
    st.builds(
        m.DbusRule,
        qualifiers,
        subsets(["send", "receive"]),
        st.tuples(
            st.builds(m.Cond, st.just("bus"), st.sampled_from([("system",), ("session",)])),
            st.builds(m.Cond, st.just("path"), literals.map(lambda p: (aare_escape(p),))),
        ),
        st.just(()) | names.map(lambda n: (m.Cond("label", (n,)),)),
    ),
    st.builds(
        m.MountRule,
        qualifiers,
        st.just("mount"),
        st.just((m.Cond("fstype", ("tmpfs",)),)),
        st.none(),
        literals.map(lambda p: aare_escape(p + "/")),
    ),
    st.builds(m.MountRule, qualifiers, st.just("umount"), mountpoint=literals.map(aare_escape)),
    st.builds(m.ChangeProfileRule, qualifiers, target=names),
    st.builds(
        m.RlimitRule, st.sampled_from(["nofile", "nproc", "core"]), st.sampled_from(["1024", "64"])
    ),
)


@st.composite
def policies(draw: st.DrawFn) -> m.PolicyFile:
    """A policy file: tunables, a hostile variable, a profile (maybe a hat) with rules."""
    paths = draw(st.lists(literals, min_size=1, max_size=5, unique=True))
    body: list[m.BodyItem] = []
    if draw(st.booleans()):
        body.append(m.Include("abstractions/base"))
    body += [draw(file_rules(p)) for p in paths]
    body += draw(st.lists(other_rules, max_size=6))
    body.append(m.FileRule(m.NO_QUALIFIERS, "@{AAPROF_DATA}/**", frozenset("r")))
    if draw(st.booleans()):
        hat_rules = draw(st.lists(other_rules, min_size=1, max_size=3))
        body.append(m.Profile(draw(names), keyword="^", body=tuple(hat_rules)))
    profile = m.Profile(
        draw(names),
        attachment=draw(st.none() | literals.map(aare_escape)),
        flags=draw(subsets(["complain", "attach_disconnected", "mediate_deleted", "audit"])),
        body=tuple(body),
    )
    data = draw(st.lists(literals.map(aare_escape), min_size=1, max_size=3))
    return m.PolicyFile(
        (
            m.Abi("abi/3.0"),
            m.Include("tunables/global"),
            m.Variable("AAPROF_DATA", tuple(data)),
            profile,
        )
    )


def reference_quoted(literal: str) -> str:
    """`literal` as a quoted pattern, encoded without the renderer: every AARE metacharacter
    backslashed, every byte outside printable ASCII in octal."""
    out = []
    for byte in literal.encode("utf-8", "surrogateescape"):
        ch = chr(byte)
        if ch in '\\*?[]{}^"':
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def compiled(text: str) -> bytes:
    return compile_policy(text, base=BASE, name="<generated>", features=FEATURES)


@SETTINGS
@given(policy=policies())
def test_rendered_policy_compiles_and_parses_back(policy: m.PolicyFile) -> None:
    require_parser()
    text = render_policy(policy)
    assert compiled(text), text
    assert parse_policy(text) == policy, text


@SETTINGS
@given(literal=literals, letters=perms)
def test_a_literal_path_means_itself(literal: str, letters: frozenset[str]) -> None:
    require_parser()
    rule = m.FileRule(path=aare_escape(literal), perms=letters)
    rendered = render_policy(m.PolicyFile((m.Profile("t", body=(rule,)),)))
    perm_text = "".join(sorted(letters))
    reference = f"profile t {{\n  {reference_quoted(literal)} {perm_text},\n}}\n"
    assert compiled(rendered) == compiled(reference), rendered
