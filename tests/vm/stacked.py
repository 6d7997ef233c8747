"""Stacked labels and a child policy namespace on the real kernel (Debian 12's 6.1), learnt and
enforced: two boots, as the closed loop (tests/vm/loop.py).

Boot 1 runs every workload under profiles in complain mode (the baseline `stk-base` alone
enforces); `aaprof generate --stack-on stk-base` learns from its kernel log into DIR, which
holds the hand-written start of each profile (the rules both boots share). Boot 2 loads what
was generated, in enforce mode, runs the same workloads (0 denials) and then the probes, each
denied by the member of the stack that should deny it.

- `stk-a//&stk-b` (a stack made with change_onexec, as `aa-exec -p 'a//&b'`): each member
  lacks one file the workload reads; each record names the member that lacks it, and only that
  member learns it.
- `:stk-ns:stk-inner` (a profile in a child policy namespace): its records carry
  `namespace="root//stk-ns"` and teach `:stk-ns:stk-inner`.
- a signal from the stack `stk-a//&stk-b` to a process under `stk-recv`: the learnt peer rule
  lets it through under enforce, where a hand-written `peer=stk-a` (`stk-recv-bare`) does not;
  and one `stk-recv2` learns from `stk-a` alone and gets under enforce from the stack (the
  suffix 6.17 adds to exec'd processes): the learnt rule still lets it through.
- a runc container under `stk-base//&stk-app` (the app's profile on a baseline, the OCI
  runtime given the stacked label): the app's layer is learnt, the baseline's own denial is
  reported and not learnt, and under enforce a file the baseline allows but the app never read
  is denied by `stk-app`.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from vm import node
from vm.harness import Images, Step, VMResult, Workload, run_workload

PROFILES_DIR = "/tmp/stk-profiles"  # the boot's policy files (DIR/profiles in boot 2)
NAMESPACE = "stk-ns"
STACK = "stk-a//&stk-b"
INNER = f":{NAMESPACE}:stk-inner"
APP_STACK = "stk-base//&stk-app"
BASELINE = "stk-base"

# what every shell-run profile needs to run busybox and read what the steps read
_COMMON = "  /bin/** mrix,\n  /dev/** rw,\n  /proc/** r,\n"
# the start of each learnt profile: DIR/profiles before `generate`, complain mode in boot 1
START = {
    "stk-a": f"profile stk-a {{\n{_COMMON}  /tmp/stk/ok r,\n  /tmp/stk/for-b r,\n"
    "  signal (send) peer=stk-recv{,2,-bare},\n}\n",
    # stk-b allows the probe: under the stack only stk-a denies it
    "stk-b": f"profile stk-b {{\n{_COMMON}  /tmp/stk/ok r,\n  /tmp/stk/for-a r,\n"
    "  /tmp/stk/probe-a r,\n  signal (send) peer=stk-recv{,2,-bare},\n}\n",
    "stk-inner": f"profile {INNER} {{\n{_COMMON}  /tmp/stk/ok r,\n}}\n",
    "stk-recv": f"profile stk-recv {{\n{_COMMON}  signal (receive) peer=unconfined,\n}}\n",
    "stk-recv2": f"profile stk-recv2 {{\n{_COMMON}  signal (receive) peer=unconfined,\n}}\n",
    # `ix` from the start: under no_new_privs (runc's noNewPrivileges) the kernel refuses a
    # complain-mode member's `null-` learning transition in a stack ("no new privs", DENIED by
    # the baseline), where a profile alone stays in itself
    "stk-app": "profile stk-app flags=(attach_disconnected,mediate_deleted) {\n  /bin/** rix,\n}\n",
}
# not learnt: the same in both boots, enforce mode
FIXED = (
    "abi <abi/3.0>,\n"
    f"profile stk-recv-bare {{\n{_COMMON}  signal (receive) peer=unconfined,\n"
    "  signal (receive) peer=stk-a,\n}\n"
    f"profile {BASELINE} flags=(attach_disconnected,mediate_deleted) {{\n"
    "  /** rwlkmix,\n  capability,\n  signal,\n  audit deny /base-denied r,\n}\n"
)

SETUP = """set -e
mkdir -p /tmp/stk
for f in ok for-a for-b probe-a for-inner; do echo $f > /tmp/stk/$f; done
mkdir /sys/kernel/security/apparmor/policy/namespaces/stk-ns
"""
LOAD = f"""for f in {PROFILES_DIR}/*; do
  apparmor_parser -r -W "$f" || echo "load failed: ${{f##*/}}"
done
cat /sys/kernel/security/apparmor/profiles | grep stk- | sort
"""
# a receiver under `profile`; then `sender` kills it and says whether the kill worked
SIGNAL = """aaexec {profile} /bin/sleep 1000000 &
p=$!
until grep -q '^{profile} ' /proc/$p/attr/current 2>/dev/null; do :; done
aaexec '{sender}' /bin/kill -TERM $p && echo kill-ok || echo kill-failed
kill -KILL $p 2>/dev/null || true
wait $p || true
"""
APP_SCRIPT = "set -e; cat /etc/app.conf; echo data: $(ls /data)"


def _app_config(name: str, script: str) -> bytes:
    spec = json.loads(node.Container(name, APP_STACK).config())
    spec["process"]["args"] = ["sh", "-c", script]
    return json.dumps(spec, indent=2).encode()


def _container(name: str) -> str:
    return (
        f"cp /tmp/{name}.json /tmp/bundles/app/config.json\n"
        f"{node.ROOT_CMD} run --no-pivot -b /tmp/bundles/app {shlex.quote(name)}"
    )


APP_SETUP = """set -e
b=/tmp/bundles/app
mkdir -p $b/rootfs/bin $b/rootfs/proc $b/rootfs/dev $b/rootfs/tmp $b/rootfs/etc $b/rootfs/data
cp /bin/busybox $b/rootfs/bin/
for a in $(busybox --list); do [ $a = busybox ] || ln -s busybox $b/rootfs/bin/$a; done
echo top-secret > $b/rootfs/secret
echo no > $b/rootfs/base-denied
echo 'mode=production' > $b/rootfs/etc/app.conf
echo 1 > $b/rootfs/data/one
"""

# step names
RUN_STACK, RUN_NS, RUN_APP = "run stack", "run namespace", "run app"
RUN_SIGNAL, RUN_SUFFIX = "run signal", "run signal, suffix added"
PROBE_STACK, PROBE_NS, PROBE_BARE, PROBE_APP = (
    "probe stack",
    "probe namespace",
    "probe bare peer",
    "probe app",
)


def steps(enforce: bool) -> tuple[Step, ...]:
    """Boot 1 (`enforce` False): the workloads, and the app's try at what the baseline denies.
    Boot 2: the same workloads, then the probes."""
    out = [
        Step("setup", SETUP),
        Step("load", LOAD),
        Step("app setup", APP_SETUP),
        Step(RUN_STACK, f"aaexec '{STACK}' /bin/cat /tmp/stk/ok /tmp/stk/for-a /tmp/stk/for-b"),
        Step(RUN_NS, f"aaexec '{INNER}' /bin/cat /tmp/stk/ok /tmp/stk/for-inner"),
        Step(RUN_SIGNAL, SIGNAL.format(profile="stk-recv", sender=STACK)),
        # learnt from `stk-a` alone, then sent by `stk-a` with a member stacked on it, as
        # 6.17 stacks `//&unconfined` on a process exec'd into a container
        Step(RUN_SUFFIX, SIGNAL.format(profile="stk-recv2", sender=STACK if enforce else "stk-a")),
        Step(RUN_APP, _container("stk-app-run")),
    ]
    if not enforce:
        out.append(Step("app tries the baseline's deny", _container("stk-app-base"), expect=None))
    else:
        out += [
            Step(PROBE_STACK, f"aaexec '{STACK}' /bin/cat /tmp/stk/probe-a", expect=None),
            Step(PROBE_NS, f"aaexec '{INNER}' /bin/cat /tmp/stk/for-a", expect=None),
            Step(PROBE_BARE, SIGNAL.format(profile="stk-recv-bare", sender=STACK), expect=None),
            Step(PROBE_APP, _container("stk-app-probe"), expect=None),
        ]
    return tuple(out)


def files(policy: dict[str, bytes]) -> dict[str, bytes]:
    """The boot's policy files (name → text) and the container configs, for the guest's /tmp."""
    out = {f"stk-profiles/{name}": text for name, text in policy.items()}
    out["stk-profiles/0-fixed"] = FIXED.encode()
    out["stk-app-run.json"] = _app_config("stk-app-run", APP_SCRIPT)
    out["stk-app-base.json"] = _app_config("stk-app-base", "cat /base-denied")
    out["stk-app-probe.json"] = _app_config("stk-app-probe", "cat /secret")
    return out


def start(complain: bool) -> dict[str, bytes]:
    """The hand-written start of each learnt profile, as files (complain mode for boot 1)."""
    out = {}
    for name, start_text in START.items():
        text = start_text
        if complain:
            text = text.replace(" {\n", " flags=(complain) {\n", 1).replace(
                "flags=(attach_disconnected,mediate_deleted) flags=(complain)",
                "flags=(attach_disconnected,mediate_deleted,complain)",
            )
        out[name] = f"abi <abi/3.0>,\n{text}".encode()
    return out


@dataclass(frozen=True, slots=True)
class Loop:
    """Both boots and what `generate` made and said in between."""

    learn: VMResult
    enforce: VMResult
    profiles: dict[str, str]  # DIR/profiles: file name → text
    stderr: str


def aaprof_run(*args: str) -> subprocess.CompletedProcess[str]:
    """`aaprof ARGS` on the host, output captured."""
    cmd = [sys.executable, "-m", "aaprof", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def _boot(images: Images, policy: dict[str, bytes], enforce: bool) -> VMResult:
    result = run_workload(images, Workload(steps=steps(enforce), files=files(policy)))
    result.check()
    return result


def run_loop(images: Images, work: Path) -> Loop:
    """Boot 1, `aaprof generate --stack-on stk-base` into `work`/out, boot 2.

    Raises:
        AssertionError: generate failed (its output in the message).
    """
    learn = _boot(images, start(complain=True), enforce=False)
    (work / "dmesg").write_bytes(learn.dmesg)
    (work / "out/profiles").mkdir(parents=True)
    for name, text in start(complain=False).items():
        (work / "out/profiles" / name).write_bytes(text)
    args = ("--mode", "enforce", "--include-denied", "--stack-on", BASELINE, "--no-k8s")
    done = aaprof_run("generate", str(work / "dmesg"), "--out", str(work / "out"), *args)
    assert done.returncode == 0, f"aaprof generate failed:\n{done.stdout}\n{done.stderr}"
    profiles = {f.name: f.read_text() for f in sorted((work / "out/profiles").iterdir())}
    policy = {name: text.encode() for name, text in profiles.items()}
    return Loop(learn, _boot(images, policy, enforce=True), profiles, done.stderr)


def capture(loop: Loop) -> bytes:
    """The AppArmor records of both boots' workload steps (not the loads), in order, each boot
    after a comment line naming it: tests/logs/stacked/kernel-6.1.dmesg."""
    out = []
    for title, result in (("boot 1: complain", loop.learn), ("boot 2: enforce", loop.enforce)):
        out.append(f"# {title}".encode())
        for step in result.steps:
            if step.name in ("setup", "load", "app setup"):
                continue
            out += [line for line in result.step_dmesg(step.name) if b" apparmor=" in line]
    return b"\n".join(out) + b"\n"
