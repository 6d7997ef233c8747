"""`aaprof node load --watch`: a pass at start, then one after every change and every resync."""

from __future__ import annotations

import threading
from collections.abc import Callable

from aaprof.errors import AaprofError
from aaprof.node.host import Host
from aaprof.node.inotify import Waiter
from aaprof.node.load import LoadOptions, SyncResult, sync
from aaprof.node.state import READY
from aaprof.node.status import write_status

# after an event, wait this long for the rest of a ConfigMap update before reading it
SETTLE_S = 0.5


def one_pass(host: Host, options: LoadOptions) -> tuple[SyncResult | None, str]:
    """A pass with its status written; a pass that cannot run returns (None, why)."""
    try:
        result = sync(host, options)
    except AaprofError as exc:
        write_status(options.state_dir, None, str(exc))
        return None, str(exc)
    write_status(options.state_dir, result)
    return result, ""


def watch(
    host: Host,
    options: LoadOptions,
    *,
    stop: threading.Event,
    report: Callable[[SyncResult | None, str], None],
    resync_s: float = 60.0,
    poll: bool = False,
) -> str:
    """Pass after pass until `stop` is set; returns how the directories were watched.

    A change seen by the waiter (inotify, or polling) starts a pass; so does `resync_s` without
    one (a profile unloaded behind the loader's back is loaded again). A pass that fails (no
    securityfs, a state that cannot be read) is reported and retried at the next wake-up.
    """
    # a readiness file left by an earlier run must not count before this run's first pass
    (options.state_dir / READY).unlink(missing_ok=True)
    waiter = Waiter(options.dirs, poll=poll)
    try:
        report(*one_pass(host, options))
        while not stop.is_set():
            changed = _wait(waiter, stop, resync_s)
            if stop.is_set():
                break
            if changed:
                stop.wait(SETTLE_S)
                waiter.wait(0)
            report(*one_pass(host, options))
        return waiter.mode
    finally:
        waiter.close()


def _wait(waiter: Waiter, stop: threading.Event, timeout: float) -> bool:
    """Wait for a change in slices, so a stop request is seen within a second."""
    left = timeout
    while left > 0 and not stop.is_set():
        step = min(1.0, left)
        if waiter.wait(step):
            return True
        left -= step
    return False
