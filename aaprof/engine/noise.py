"""Runtime-start noise: records every container start writes, hidden unless asked for."""

from __future__ import annotations

import re

from aaprof.model.event import Event

# runc (and crun) apply the profile by writing /proc/<pid>/attr/apparmor/exec (or the older
# attr/exec) from `runc:[2:INIT]` before exec'ing the workload; the init process's own
# accesses happen under the new profile's label too.
_ATTR_EXEC = re.compile(r"/proc/([0-9]+|self|thread-self)(/task/[0-9]+)?/attr/(apparmor/)?exec")
_RUNTIME_COMMS = re.compile(r"runc:\[[0-9]:[A-Z]+\]|crun|conmon")


def is_noise(event: Event) -> bool:
    """Whether `event` is runtime-start noise: runc's init, the exec attribute write, or a
    `ptrace` check against an unconfined peer (the runtime and tools inspecting /proc)."""
    if event.comm and _RUNTIME_COMMS.fullmatch(event.comm):
        return True
    if event.name and _ATTR_EXEC.fullmatch(event.name):
        return True
    return event.class_ == "ptrace" and event.peer == "unconfined"
