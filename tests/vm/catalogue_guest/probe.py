"""The accesses a catalogue component never needs, each tried under its profile.

Run unconfined in the test VM as `python3 probe.py PROFILE`: for each probe a child process moves
itself into PROFILE (change_profile through /proc/self/attr/current, once everything it needs is
loaded) and tries the access; the parent prints `probe NAME errno N` (0: the access was allowed).
"""

from __future__ import annotations

import ctypes
import errno
import os
import subprocess
import sys

libc = ctypes.CDLL(None, use_errno=True)
PTRACE_ATTACH = 16
SYS_INIT_MODULE = 175
MODULE = ctypes.create_string_buffer(b"\x7fELF" + b"\0" * 60)


def _open(path: str, flags: int) -> int:
    os.close(os.open(path, flags, 0o600))
    return 0


def _ptrace(pid: int) -> int:
    return 0 if libc.ptrace(PTRACE_ATTACH, pid, 0, 0) == 0 else ctypes.get_errno()


def _module() -> int:
    done = libc.syscall(SYS_INIT_MODULE, MODULE, ctypes.c_ulong(len(MODULE)), b"")
    return 0 if done == 0 else ctypes.get_errno()


def _mount() -> int:
    return 0 if libc.mount(b"none", b"/mnt", b"tmpfs", 0, None) == 0 else ctypes.get_errno()


def main() -> None:
    profile = sys.argv[1]
    os.makedirs("/mnt", exist_ok=True)
    victim = subprocess.Popen(["/bin/sleep", "3600"])
    probes = {
        "shadow-read": lambda: _open("/etc/shadow", os.O_RDONLY),
        "usr-write": lambda: _open("/usr/aaprof-probe", os.O_WRONLY | os.O_CREAT),
        "etc-write": lambda: _open("/etc/aaprof-probe", os.O_WRONLY | os.O_CREAT),
        "ptrace": lambda: _ptrace(victim.pid),
        "module": _module,
        "mount": _mount,
    }
    for name, probe in probes.items():
        pid = os.fork()
        if pid == 0:
            try:
                with open("/proc/self/attr/current", "w") as f:
                    f.write(f"changeprofile {profile}")
                os._exit(probe())
            except OSError as exc:
                os._exit(exc.errno or errno.EIO)
            os._exit(255)
        _, status = os.waitpid(pid, 0)
        print(f"probe {name} errno {os.waitstatus_to_exitcode(status)}")
    victim.kill()
    victim.wait()


if __name__ == "__main__":
    main()
