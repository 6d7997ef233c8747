"""The userns workload (Debian 13's kernel): a Python script that creates a user namespace, or
not, under a profile; used by test_userns.py and scripts/vm-sample-logs.py."""

from __future__ import annotations

from vm.harness import Step, Workload

# Python, exec'd straight under the profile, creates the namespace itself (busybox's `unshare`
# re-execs busybox, whose complain-mode learning child `//null-` logs no userns record)
SCRIPT = r"""import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
with open("/tmp/userns/app.conf") as f:
    print("config:", f.read().strip())
if sys.argv[1:] == ["userns"]:
    if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
        sys.exit(f"unshare: errno {ctypes.get_errno()}")
    print("made a user namespace")
print("done")
"""
PYTHON = (
    "LD_LIBRARY_PATH=/opt/python/lib PYTHONDONTWRITEBYTECODE=1 "
    "aaexec {} /opt/python/usr/bin/python3.11 /tmp/userns.py"
)
LEARNING = b"""abi <abi/4.0>,
include <tunables/global>

profile userns-app flags=(complain) {
}

profile userns-none flags=(complain) {
}
"""
NONE_FILE = b"""abi <abi/4.0>,
include <tunables/global>

profile userns-none flags=(complain) {
}
"""
LOAD = 'set -e; for f in /tmp/profiles/*; do apparmor_parser -r -W "$f"; done'
SETUP = "mkdir -p /tmp/userns && echo 'mode=test' > /tmp/userns/app.conf"
APP = PYTHON.format("userns-app") + " userns"
NONE = PYTHON.format("userns-none")
PROBE = PYTHON.format("userns-none") + " userns"


# a profile that refuses the namespace and logs it (tests/logs/fixtures/userns-6.12.dmesg):
# enforced, as 6.12 logs the namespace ALLOWED under a complain profile's `audit deny userns,`
DENYING = b"""abi <abi/4.0>,
include <tunables/global>

profile userns-denied {
  file,
  audit deny userns,
}
"""


# the same refusal under abi/3.0, which does not name userns: the kernel does not mediate it
# (what `aaprof profile check` warns of)
DENYING_ABI3 = DENYING.replace(b"abi/4.0", b"abi/3.0").replace(b"userns-denied", b"userns-abi3")


def workload(profiles: dict[str, bytes], probes: dict[str, str] | None = None) -> Workload:
    """Load `profiles`, run the script under userns-app (a namespace) and userns-none (none),
    then each of `probes` (step name → script, any exit status)."""
    steps = [Step("load", LOAD), Step("setup", SETUP), Step("app", APP), Step("none", NONE)]
    for name, script in (probes or {}).items():
        steps.append(Step(name, script, expect=None))
    files = {"userns.py": SCRIPT.encode(), **{f"profiles/{n}": d for n, d in profiles.items()}}
    return Workload(steps=tuple(steps), files=files)
