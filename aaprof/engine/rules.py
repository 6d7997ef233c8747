"""The least rule that allows one Event, for every record class the parser reads."""

from __future__ import annotations

from collections.abc import Callable

from aaprof.engine.classes.file import file_rule
from aaprof.engine.classes.ipc import (
    dbus_rule,
    io_uring_rule,
    mqueue_rule,
    ptrace_rule,
    signal_rule,
    userns_rule,
)
from aaprof.engine.classes.network import network_rule
from aaprof.engine.classes.system import (
    capability_rule,
    change_profile_rule,
    mount_rule,
    pivot_root_rule,
)
from aaprof.model import profile as m
from aaprof.model.event import Event

_BY_OPERATION: dict[str, Callable[[Event], m.Rule | None]] = {
    "change_profile": change_profile_rule,
    "change_onexec": change_profile_rule,
    "pivotroot": pivot_root_rule,
    "capable": capability_rule,
}
_BY_CLASS: dict[str, Callable[[Event], m.Rule | None]] = {
    "file": file_rule,
    "cap": capability_rule,
    "net": network_rule,
    "signal": signal_rule,
    "ptrace": ptrace_rule,
    "dbus": dbus_rule,
    "mount": mount_rule,
    "namespace": userns_rule,
    "io_uring": io_uring_rule,
    "posix_mqueue": mqueue_rule,
    "sysv_mqueue": mqueue_rule,
}
# Records that ask for nothing a rule can grant.
_NO_RULE_MODES = frozenset({"STATUS", "HINT", "ERROR"})


def rule_for(event: Event) -> m.Rule | None:
    """The least rule that would allow `event`, or None when no rule can (or need) allow it.

    Every literal name from the record (paths, addresses, labels, D-Bus names) goes through
    `aare_escape`, so a name a confined process chose is matched literally and cannot add a
    rule. See docs/generate.md for each class's rule and where it differs from aa-logprof.

    Args:
        event: One decoded record.

    Returns:
        A rule of the record's class, or None (a status record, a record naming no object or
        no access, or a denial nothing can lift, such as a missing label).
    """
    if event.mode in _NO_RULE_MODES:
        return None
    by_op = _BY_OPERATION.get(event.operation or "")
    if by_op is not None:
        return by_op(event)
    if event.operation == "change_hat":
        return None
    handler = _BY_CLASS.get(event.class_ or "")
    if handler is None and event.family:
        handler = network_rule
    return handler(event) if handler else None
