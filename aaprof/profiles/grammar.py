"""pyparsing grammar of AppArmor 3.x/4.x policy files (see docs/profile-grammar.md)."""

from __future__ import annotations

import re

import pyparsing as pp

# ---- punctuation and keywords, declared once ----------------------------------------------

LBRACE, RBRACE, LPAR, RPAR, COMMA = (pp.Suppress(c).set_name(repr(c)) for c in "{}(),")
ARROW = pp.Suppress("->").set_name("'->'")
LE = pp.Suppress("<=").set_name("'<='")
PLUS_EQ = pp.Literal("+=")


def _kw(word: str) -> pp.ParserElement:
    return pp.Keyword(word, ident_chars=pp.identbodychars + "-./").set_name(repr(word))


(
    ABI, ALIAS, ALL, AUDIT, ALLOW, DENY, OWNER, CAPABILITY, NETWORK, UNIX, SIGNAL, PTRACE, DBUS,
    MOUNT, REMOUNT, UMOUNT, PIVOT_ROOT, CHANGE_PROFILE, SET, RLIMIT, USERNS, IO_URING, MQUEUE,
    LINK, SUBSET, FILE, PROFILE, HAT, IF, ELSE, SAFE, UNSAFE, OTHER,
) = (_kw(w) for w in (
    "abi", "alias", "all", "audit", "allow", "deny", "owner", "capability", "network", "unix",
    "signal", "ptrace", "dbus", "mount", "remount", "umount", "pivot_root", "change_profile",
    "set", "rlimit", "userns", "io_uring", "mqueue", "link", "subset", "file", "profile", "hat",
    "if", "else", "safe", "unsafe", "other",
))  # fmt: skip

INCLUDE = pp.Regex(r"#?include\b").set_name("'include'")
IF_EXISTS = pp.Regex(r"if\s+exists\b").set_name("'if exists'")

# ---- tokens ----------------------------------------------------------------------------------

COMMENT = pp.Regex(r"#(?!include\b)[^\n]*").set_name("comment")
QUOTED = pp.Regex(r'"(?:[^"\\]|\\.)*"', flags=0).set_name("quoted string")
# An unquoted word as AppArmor's lexer reads it: up to whitespace, '"', '!' or a ',' that ends
# the rule (a ',' followed by another word character belongs to the word, as in `{a,b}`).
WORD = pp.Regex(r"(?:[^\s\"!,\\(#{}]|\{(?!\s)|\\.)(?:[^\s\"!,\\]|\\.|,(?=[^\s,]))*").set_name(
    "word"
)
# A value inside parentheses stops at ',' and ')' but keeps `{a,b}` and `@{var}` whole.
_BRACES = r"\{(?:[^\s{}]|\{[^\s{}]*\})*\}"
PAREN_WORD = pp.Regex(rf"(?:[^\s\"!,(){{}}\\]|\\.|{_BRACES})+").set_name("value")
MAGIC_PATH = pp.Regex(r"<[^>\n]*>").set_name("<path>")
NAME = (QUOTED | WORD).set_name("name")
PATH = (QUOTED | WORD).set_name("path")
PERMS = pp.Regex(r"[rwalkmixupcPUCIRWLMXD]+(?=[\s,])").set_name("permissions")
BARE = pp.Regex(r"[A-Za-z_][\w+-]*(?![\w.+-]|\s*=|\s+in[\s(])").set_name("word")
KEY_OP = pp.Regex(r"(?P<key>[A-Za-z_][\w.]*)(?![\w.])\s*(?P<op>:?=|in(?=[\s(]))").set_name("key=")

# ---- conditions: key=value, key=(v1 v2), key in (v1, v2), peer=(key=value ...) -------------

_value = (QUOTED | PAREN_WORD).set_name("value")
_commas = pp.ZeroOrMore(COMMA)  # AppArmor allows empty elements: `(a,,,b,)`
value_list = pp.Group(LPAR + _commas + pp.ZeroOrMore(_value + _commas) + RPAR).set_name("(values)")
inner_cond = pp.Group(KEY_OP + (value_list("list") | _value("value"))).set_name("condition")
cond_group = pp.Group(LPAR + pp.OneOrMore(inner_cond + pp.Opt(COMMA)) + RPAR)
cond = pp.Group(
    KEY_OP + (cond_group("conds") | value_list("list") | (QUOTED | WORD)("value"))
).set_name("condition")
conds = pp.ZeroOrMore(cond)("conds")
_paren_access = LPAR + _commas + pp.ZeroOrMore((QUOTED | PAREN_WORD) + _commas) + RPAR
paren_access = pp.Group(_paren_access).set_name("(access)")
access = pp.Group(_paren_access | BARE).set_name("access")

# ---- qualifiers --------------------------------------------------------------------------------

PRIORITY = pp.Regex(r"priority\s*=\s*(?P<priority>[+-]?\d+)").set_name("priority=")
qualifiers = (
    pp.Opt(PRIORITY)
    + pp.Opt(AUDIT)("audit")
    + pp.Opt(ALLOW | DENY)("access")
    + pp.Opt(OWNER("owner") | OTHER("other"))
).set_name("qualifiers")

# ---- rule bodies (after the qualifiers, before the ','), one Tag each ---------------------------


def _rule(kind: str, expr: pp.ParserElement) -> pp.ParserElement:
    return (pp.Tag("kind", kind) + expr).set_name(f"{kind} rule")


capability_rule = _rule("capability", CAPABILITY + pp.ZeroOrMore(BARE)("names"))
network_rule = _rule(
    "network",
    NETWORK
    + pp.Opt(paren_access("access"))
    + pp.Opt(BARE("domain"))
    + pp.Opt(BARE("type"))
    + conds,
)
unix_rule = _rule("unix", UNIX + pp.Opt(access("access")) + conds)
signal_rule = _rule("signal", SIGNAL + pp.Opt(access("access")) + conds)
ptrace_rule = _rule("ptrace", PTRACE + pp.Opt(access("access")) + conds)
dbus_rule = _rule("dbus", DBUS + pp.Opt(access("access")) + conds)
mount_rule = _rule(
    "mount",
    (MOUNT | REMOUNT | UMOUNT)("operation")
    + conds
    + pp.Opt(~ARROW + PATH("source"))
    + pp.Opt(ARROW + PATH("mountpoint")),
)
pivot_root_rule = _rule(
    "pivot_root",
    PIVOT_ROOT + conds + pp.Opt(~ARROW + PATH("newroot")) + pp.Opt(ARROW + NAME("target")),
)
change_profile_rule = _rule(
    "change_profile",
    CHANGE_PROFILE
    + pp.Opt(SAFE | UNSAFE)("exec_mode")
    + pp.Opt(~ARROW + PATH("exec_path"))
    + pp.Opt(ARROW + NAME("target")),
)
userns_rule = _rule("userns", USERNS + pp.Opt(access("access")))
io_uring_rule = _rule("io_uring", IO_URING + pp.Opt(access("access")) + conds)
mqueue_rule = _rule("mqueue", MQUEUE + pp.Opt(access("access")) + conds + pp.Opt(PATH("name")))
all_rule = _rule("all", ALL)
link_rule = _rule("link", LINK + pp.Opt(SUBSET)("subset") + PATH("path") + ARROW + PATH("target"))
_front_perms = pp.Tag("front") + pp.Opt(SAFE | UNSAFE)("exec_safety") + PERMS("perms")
_path_perms = (_front_perms + PATH("path")) | (PATH("path") + pp.Opt(PERMS("perms")))
file_rule = _rule(
    "file",
    (FILE("keyword") + pp.Opt(_path_perms) | _path_perms) + pp.Opt(ARROW + NAME("target")),
)
rule_kinds = pp.MatchFirst(
    [
        capability_rule,
        network_rule,
        unix_rule,
        signal_rule,
        ptrace_rule,
        dbus_rule,
        mount_rule,
        pivot_root_rule,
        change_profile_rule,
        userns_rule,
        io_uring_rule,
        mqueue_rule,
        all_rule,
        link_rule,
        file_rule,
    ]
).set_name("rule")
rule_kinds.ignore(COMMENT)
rlimit_rule = (
    pp.Tag("kind", "rlimit")
    + SET
    + RLIMIT
    + BARE("resource")
    + LE
    + pp.Regex(r"[^\s,]+")("value")
    + COMMA
).set_name("rlimit rule")

# ---- preamble ---------------------------------------------------------------------------------

_LINE_VALUE = pp.Regex(r'"(?:[^"\\\n]|\\.)*"|(?:[^\s"#\\]|\\[^\n])+').set_whitespace_chars(" \t")
_CONTINUATION = pp.Suppress(pp.Regex(r"\\\r?\n").set_whitespace_chars(" \t"))
variable = (
    pp.Tag("kind", "variable")
    + pp.Regex(r"@(?P<brace>\{)?(?P<name>\w+)(?(brace)\})[ \t]*(?P<op>[+?:]?=)")
    + pp.Group(pp.ZeroOrMore(_LINE_VALUE | _CONTINUATION))("values")
).set_name("variable assignment")
boolean = (
    pp.Tag("kind", "boolean")
    + pp.Regex(r"\$\{?(?P<name>\w+)\}?\s*(?P<op>[?:]?=)\s*(?P<value>(?i:true|false))\b")
).set_name("boolean")
abi = (
    pp.Tag("kind", "abi")
    + ABI
    + (MAGIC_PATH | QUOTED | pp.Regex(r'[^<\s,"][^\s,]*').set_name("path"))("path")
    + COMMA
).set_name("abi")
include = (
    pp.Tag("kind", "include")
    + INCLUDE
    + pp.Opt(IF_EXISTS)("if_exists")
    + (MAGIC_PATH | NAME)("path")
).set_name("include")
alias = (
    pp.Tag("kind", "alias") + ALIAS + PATH("original") + ARROW + PATH("replacement") + COMMA
).set_name("alias")
comment = (pp.Tag("kind", "comment") + COMMENT("text")).set_name("comment")

# ---- profiles, blocks and the file ------------------------------------------------------------

body = pp.Forward()
body.set_name("profile body")
block = (LBRACE + pp.Group(body)("body") - RBRACE).set_name("{ rules }")
flag_list = pp.Group(LPAR + pp.OneOrMore(pp.Regex(r"[^\s,()]+") + pp.Opt(COMMA)) + RPAR)
flags = (pp.Opt(pp.Regex(r"flags\s*=")) + flag_list("flags")).set_name("flags=(...)")
_xattr = pp.Group(KEY_OP + (value_list("list") | _value("value")) | _value("bare"))
xattrs = (
    pp.Regex(r"xattrs\s*=") + pp.Group(LPAR + pp.OneOrMore(_xattr + pp.Opt(COMMA)) + RPAR)("xattrs")
).set_name("xattrs=(...)")
_attachment = pp.Opt(~pp.Regex(r"(flags|xattrs)\s*=|\+") + ~LPAR + PATH("attachment"))
# AppArmor 6: `profile NAME [ATTACH] + identities=(a b) [+ identities=(...)]`
identities = pp.OneOrMore(
    pp.Suppress(pp.Regex(r"\+\s*identities\s*="))
    + pp.Group(LPAR + _commas + pp.OneOrMore(_value + _commas) + RPAR)
)("identities")
_HAT_NAME = r'\^(?P<name>"(?:[^"\\]|\\.)*"|(?:@\{\w+\}|[^\s,{"])+)'
profile_head = (
    (PROFILE("keyword") + NAME("name") + _attachment)
    | (HAT("keyword") + NAME("name"))
    | pp.Regex(_HAT_NAME)("keyword")
    | (PATH("name") + _attachment)
)
profile = (
    pp.Tag("kind", "profile")
    + qualifiers
    + profile_head
    + pp.Opt(identities)
    + pp.Opt(xattrs)
    + pp.Opt(flags)
    + block
).set_name("profile")
hat_ref = (pp.Tag("kind", "hat_ref") + pp.Regex(_HAT_NAME) + COMMA).set_name("^hat")
condition = pp.OneOrMore(
    pp.Regex(
        r"\$\{?\w+\}?|@\{\w+\}|@\w+|[()]|(?:not|defined|and|or|(?i:true|false)|\d+)\b"
        r"|[<>=!]=|[<>]"  # AppArmor 6 compares: @{N} >= 10
    )
)
conditional = pp.Forward()
conditional.set_name("if block")
conditional <<= (
    pp.Tag("kind", "if")
    + IF
    + condition("condition")
    + block
    + pp.Opt(ELSE + (pp.Group(conditional)("elif") | (LBRACE + pp.Group(body)("orelse") - RBRACE)))
)
qualified = (
    pp.Tag("kind", "rule")
    + qualifiers
    + ((LBRACE + pp.Group(body)("block") - RBRACE) | (pp.Group(rule_kinds)("rule") - COMMA))
).set_name("rule")


# The commonest line of a large profile in one regex: `[audit] [allow|deny] [owner|other]
# /plain/path PERMS,` on one line, the path of plain and glob characters only (no quote, escape,
# variable, brace, comma or comment). It stands for exactly what `qualified` reads there (build.py
# makes the same FileRule; tests/profiles/test_grammar.py holds the two equal); any other line
# fails it at once and takes the full grammar. A 128k-rule profile parses several times faster.
fast_file = (
    pp.Tag("kind", "fast_file")
    + pp.Regex(
        r"(?:(?P<audit>audit)[ \t]+)?(?:(?P<access>allow|deny)[ \t]+)?"
        r"(?:(?:(?P<owner>owner)|(?P<other>other))[ \t]+)?"
        r"(?P<path>/[A-Za-z0-9_./+:=~%*?\[\]-]*)[ \t]+(?P<perms>[rwalkmixupcPUCIRWLMXD]+)[ \t]*,"
    )
).set_name("file rule")


_LEADING_SPACE = re.compile(r"\s*")


def _located(text: str, loc: int, tokens: pp.ParseResults) -> None:
    """Where an item starts (after whitespace): build.py reports semantic errors at it."""
    match = _LEADING_SPACE.match(text, loc)
    tokens["loc"] = match.end() if match else loc


item = pp.MatchFirst(
    [
        fast_file,
        comment,
        abi,
        include,
        variable,
        boolean,
        rlimit_rule,
        conditional,
        hat_ref,
        profile,
        qualified,
    ]
).set_name("rule or profile")
item.add_parse_action(_located)
body <<= pp.ZeroOrMore(pp.Group(item))
preamble_item = pp.MatchFirst([comment, abi, include, variable, boolean, alias]).set_name(
    "preamble"
)
preamble_item.add_parse_action(_located)
policy_file = (
    pp.ZeroOrMore(pp.Group(preamble_item | item)) + pp.StringEnd().set_name("end of file")
).set_name("policy file")
policy_file.parse_with_tabs()  # tabs are data (inside quotes, in comments), not to be expanded
