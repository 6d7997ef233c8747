"""AppArmor labels: the members of a stack (`a//&b`) and the policy namespace of each (`:ns:b`).

The kernel writes a task's label as its profiles joined by `//&` (a stack: an access is allowed
only when every member allows it), each in a policy namespace other than the viewer's written
`:ns:name` (or `:ns://name`; the namespace alone is `:ns:`). A denial in a stack is audited by
the member that denied it (`profile=` names that one member); `label=` and `peer=` carry the
whole stack. Kernels from 6.17 put `//&unconfined` (containerd, runc) or
`//&unprivileged_userns` (CRI-O) on processes exec'd into a container, so a peer written as a
bare profile name no longer matches them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

STACK = "//&"

# Members that name no workload: the kernel's and AppArmor's own, never one aaprof owns.
UNCONFINED = "unconfined"
SYSTEM_MEMBERS = frozenset({UNCONFINED, "unprivileged_userns"})


@dataclass(frozen=True, slots=True)
class Member:
    """One member of a label: its policy namespace (None: the viewer's own) and profile name
    (`""` for a bare namespace `:ns:`)."""

    namespace: str | None
    name: str

    @property
    def system(self) -> bool:
        """Whether it is `unconfined` or `unprivileged_userns` (in any namespace)."""
        return self.name in SYSTEM_MEMBERS or self.name == ""


@functools.lru_cache(maxsize=4096)
def stack_members(label: str) -> tuple[str, ...]:
    """The members of a label as written, in order, namespaces kept: `a//&:ns:b` → `a`, `:ns:b`.

    A label that is not a stack is its own one member. An empty member (`a//&`, a label cut
    short) is kept as `""`: nothing is invented or dropped.
    """
    return tuple(label.split(STACK))


def is_stacked(label: str | None) -> bool:
    """Whether a label is a stack of two or more members."""
    return label is not None and STACK in label


@functools.lru_cache(maxsize=4096)
def member(text: str) -> Member:
    """A member's namespace and name: `:ns:b` and `:ns://b` → (`ns`, `b`); `b` → (None, `b`).

    A `:` with no closing `:` is a name, not a namespace (the kernel writes none such).
    """
    if text.startswith(":"):
        end = text.find(":", 1)
        if end > 0:
            name = text[end + 1 :]
            return Member(text[1:end], name[2:] if name.startswith("//") else name)
    return Member(None, text)


def confined_members(label: str) -> tuple[str, ...]:
    """The members of a label that can confine a workload: all but `unconfined`,
    `unprivileged_userns` and bare namespaces, in order."""
    return tuple(m for m in stack_members(label) if not member(m).system)


def in_namespace(profile: str, namespace: str | None) -> str:
    """A record's profile as a label seen from the root namespace: a record of a child policy
    namespace (`namespace="root//lxd-c1"`, `profile="test"`) is `:lxd-c1:test`; the root's
    own profiles (no `namespace=`, or `root`) are their names."""
    if not namespace or namespace == "root":
        return profile
    return f":{namespace.removeprefix('root//')}:{profile}"
