"""Well-known abstractions offered in place of the file rules they cover."""

from __future__ import annotations

from aaprof.model import profile as m
from aaprof.profiles.aare import compile_aare, unescape

# A few of the abstractions every AppArmor installation ships, with patterns of what they
# grant (read-only, abridged): an alternative is offered only for a rule they cover whole.
_TABLE: tuple[tuple[str, frozenset[str], tuple[str, ...]], ...] = (
    (
        "abstractions/base",
        frozenset("rm"),
        (
            "/etc/ld.so.cache",
            "/etc/ld.so.preload",
            "/{usr/,}lib{,32,64,x32}/**.so*",
            "/{usr/,}lib/@{multiarch}/**.so*",
            "/dev/null",
            "/dev/zero",
            "/dev/urandom",
            "/dev/random",
            "/etc/locale/**",
            "/usr/share/locale/**",
            "/etc/localtime",
            "/usr/share/zoneinfo/**",
            "/proc/sys/kernel/version",
            "/proc/@{pid}/maps",
        ),
    ),
    (
        "abstractions/nameservice",
        frozenset("r"),
        (
            "/etc/passwd",
            "/etc/group",
            "/etc/nsswitch.conf",
            "/etc/hosts",
            "/etc/host.conf",
            "/etc/resolv.conf",
            "/etc/gai.conf",
            "/etc/services",
            "/etc/protocols",
        ),
    ),
    (
        "abstractions/ssl_certs",
        frozenset("r"),
        ("/etc/ssl/certs/**", "/usr/share/ca-certificates/**", "/etc/ca-certificates/**"),
    ),
    (
        "abstractions/python",
        frozenset("rm"),
        ("/usr/lib{,32,64}/python3*/**", "/usr/local/lib/python3*/**"),
    ),
)
_VARIABLES = {
    "pid": ("[1-9]*",),
    "multiarch": ("*-linux-gnu*",),
}


def abstraction_for(rule: m.Rule) -> m.Include | None:
    """`include <abstractions/X>` when one of the table's abstractions grants the whole rule."""
    if not isinstance(rule, m.FileRule) or not rule.path or rule.exec_mode:
        return None
    if rule.qualifiers.deny or not rule.perms:
        return None
    for name, perms, patterns in _TABLE:
        if not rule.perms <= perms:
            continue
        for pattern in patterns:
            if compile_aare(pattern, _VARIABLES).matches(unescape(rule.path)):
                return m.Include(name)
    return None
