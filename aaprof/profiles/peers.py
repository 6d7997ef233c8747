"""Peer rules and stacked labels: the pattern that matches a peer whether or not the kernel
stacks a suffix on its label, and the warning for a peer rule that a stacked label defeats.

The kernel matches an allow rule's `peer=` against the peer's whole label: the peer
`cri-containerd.apparmor.d//&unconfined` (what kernels from 6.17 give a process exec'd into a
containerd or runc container; CRI-O's get `//&unprivileged_userns`) matches neither
`peer=cri-containerd.apparmor.d` as a whole nor member by member (`unconfined` is not allowed),
so `kill` fails with EACCES. A stack's members are in the kernel's order (by namespace and
name), so the peer's own profile may come first or last.
"""

from __future__ import annotations

from collections.abc import Iterator

from aaprof.model import profile as m
from aaprof.model.labels import STACK, UNCONFINED, confined_members, member
from aaprof.profiles.aare import AARE_META, escape

# Before and after the peer's own members: any other members of a stack, or none.
_BEFORE, _AFTER = "{,**//&}", "{,//&**}"

KERNELS = (
    "kernels from 6.17 stack //&unconfined (containerd, runc) or //&unprivileged_userns (CRI-O) "
    "on processes exec'd into a container; every kernel with label stacking "
    "(Debian 12's 6.1 among them, shown in the test VM) on a stack made with change_profile or "
    "aa-exec -p 'a//&b'"
)


def stack_proof(label: str) -> str:
    """The peer pattern for `label` that also matches it stacked with other members.

    `unconfined`, `unprivileged_userns` and bare namespaces are left out of the pattern (they
    are what kernels add); a label with nothing else (`unconfined`) is matched exactly.
    `cri-containerd.apparmor.d//&unconfined` → `{,**//&}cri-containerd.apparmor.d{,//&**}`.
    """
    own = confined_members(label)
    if not own:
        return escape(label)
    return _BEFORE + STACK.join(escape(m) for m in own) + _AFTER


def defeated_by_stacks(pattern: str) -> bool:
    """Whether an allow rule's peer pattern names one bare profile that a stacked label of that
    profile does not match: a literal name (no glob, no variable) other than `unconfined`."""
    if not pattern or STACK in pattern or "@{" in pattern or any(c in AARE_META for c in pattern):
        return False
    return member(pattern).name not in (UNCONFINED, "")


def peer_labels(rule: m.Rule) -> Iterator[str]:
    """The peer label patterns of an allow rule (`signal`, `ptrace`: `peer=`; `unix`, `dbus`:
    `peer=(label=)`); none for a deny rule (a deny matches a stack member by member)."""
    if isinstance(rule, m.SignalRule | m.PtraceRule):
        if rule.peer is not None and rule.qualifiers.access != "deny":
            yield rule.peer
    elif isinstance(rule, m.UnixRule | m.DbusRule) and rule.qualifiers.access != "deny":
        for cond in rule.peer:
            if cond.key == "label":
                yield from cond.values


def stack_warning(pattern: str) -> str:
    """The warning for a peer rule `defeated_by_stacks`, naming the kernels and the fix."""
    return (
        f"peer {pattern} names a bare profile: a stacked label such as "
        f"{pattern}//&unconfined does not match it ({KERNELS}); write it as "
        f'"{stack_proof(pattern)}"'
    )


def peer_warnings(policy: m.PolicyFile) -> Iterator[tuple[m.Rule, str]]:
    """(the rule, the warning) for each allow rule of the file's own profiles whose peer names
    a bare profile that a stacked label of that profile does not match (`defeated_by_stacks`)."""
    for rule in _rules_in(policy.items):
        for pattern in peer_labels(rule):
            if defeated_by_stacks(pattern):
                yield rule, stack_warning(pattern)


def _rules_in(items: tuple[m.BodyItem, ...]) -> list[m.Rule]:
    """Every rule in `items`, in profiles, children, blocks and conditionals alike."""
    out: list[m.Rule] = []
    for item in items:
        if isinstance(item, m.RULE_TYPES):
            out.append(item)
        elif isinstance(item, m.Profile | m.QualifierBlock):
            out.extend(_rules_in(item.body))
        elif isinstance(item, m.Conditional):
            out.extend(_rules_in(item.body))
            out.extend(_rules_in(item.orelse))
    return out
