"""Kubernetes' node cases for AppArmor, with runc: a bundle per container, and their checks."""

from __future__ import annotations

import json
import shlex
import uuid
from dataclasses import dataclass

from vm import records
from vm.harness import Step, VMResult

# A foreground `runc run` forwards every signal it gets to the container's process, and runc
# 1.1 (Debian 12) also forwards the SIGURG that Go's runtime sends its own threads to preempt a
# goroutine (upstream runc ignores it from 1.2): how many arrive depends on the load, and each is
# a `signal receive` the container's profile never learnt. Without async preemption Go sends none.
ROOT_CMD = "GODEBUG=asyncpreemptoff=1 runc --root /run/runc"
# the container prints who it is, then tries what its profile forbids
CONTAINER_SCRIPT = (
    "echo label=$(cat /proc/self/attr/current); echo cgroup=$(cat /proc/self/cgroup); cat /secret"
)
FORBIDDEN = "/secret"


@dataclass(frozen=True, slots=True)
class Container:
    """One runc container: the profile it asks for and a Kubernetes-shaped cgroup path."""

    name: str
    profile: str
    systemd: bool = False

    @property
    def id(self) -> str:
        return uuid.uuid5(uuid.NAMESPACE_DNS, self.name).hex * 2

    @property
    def pod_uid(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, self.name))

    @property
    def cgroup(self) -> str:
        if self.systemd:
            uid = self.pod_uid.replace("-", "_")
            return (
                "/kubepods.slice/kubepods-burstable.slice/"
                f"kubepods-burstable-pod{uid}.slice/cri-containerd-{self.id}.scope"
            )
        return f"/kubepods/besteffort/pod{self.pod_uid}/{self.id}"

    def config(self) -> bytes:
        """The OCI config.json, as a CRI runtime would write it for this container."""
        spec = {
            "ociVersion": "1.0.2",
            "process": {
                "terminal": False,
                "user": {"uid": 0, "gid": 0},
                "args": ["sh", "-c", CONTAINER_SCRIPT],
                "env": ["PATH=/bin"],
                "cwd": "/",
                "apparmorProfile": self.profile,
                "noNewPrivileges": True,
            },
            "root": {"path": "rootfs"},
            "hostname": self.name,
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"},
            ],
            "linux": {
                "namespaces": [{"type": t} for t in ("pid", "mount", "ipc", "uts")],
                "cgroupsPath": self.cgroup,
            },
        }
        return json.dumps(spec, indent=2).encode()

    def step(self, expect: int | None) -> Step:
        """The guest step that makes the bundle and runs the container."""
        bundle = f"/tmp/bundles/{self.name}"
        script = f"""
set -u
b={bundle}
mkdir -p $b/rootfs/bin $b/rootfs/proc $b/rootfs/dev $b/rootfs/tmp
cp /bin/busybox $b/rootfs/bin/
for a in sh cat echo; do ln -s busybox $b/rootfs/bin/$a; done
echo top-secret > $b/rootfs/secret
cp /tmp/{self.name}.json $b/config.json
{ROOT_CMD} run --no-pivot -b $b {shlex.quote(self.name)}
"""
        return Step(f"container {self.name}", script, expect=expect)


PROFILES = """\
abi <abi/3.0>,
include <tunables/global>

profile k8s-node-confined flags=(attach_disconnected,mediate_deleted) {
  include <abstractions/base>
  /bin/** rix,
  /proc/** r,
  /dev/** rw,
}

profile k8s-node-loose flags=(attach_disconnected,mediate_deleted) {
  include <abstractions/base>
  /bin/** rix,
  /proc/** r,
  /dev/** rw,
  /secret r,
}
"""

CONFINED = Container("confined", "k8s-node-confined")
CONFINED_SYSTEMD = Container("confined-systemd", "k8s-node-confined", systemd=True)
LOOSE = Container("loose", "k8s-node-loose")
UNLOADED = Container("unloaded", "k8s-node-not-loaded")
CONTAINERS = (CONFINED, CONFINED_SYSTEMD, LOOSE, UNLOADED)


def steps() -> tuple[Step, ...]:
    """Load the profiles, then run every container; their exits are checked by the tests."""
    load = Step("load node profiles", "apparmor_parser -r -W /tmp/node-profiles")
    return (load, *(c.step(expect=None) for c in CONTAINERS))


def files() -> dict[str, bytes]:
    """The profiles and one config.json per container, for the guest's /tmp."""
    out = {"node-profiles": PROFILES.encode()}
    out.update({f"{c.name}.json": c.config() for c in CONTAINERS})
    return out


def _output(result: VMResult, c: Container) -> str:
    return result.step(f"container {c.name}").output.decode(errors="replace")


def problems_confined(result: VMResult, c: Container, profile: str) -> list[str]:
    """What is wrong with the claim "container c ran confined by `profile`" (empty: nothing)."""
    out, bad = _output(result, c), []
    if f"label={profile} (enforce)" not in out:
        bad.append(f"/proc/self/attr/current does not name {profile} (enforce): {out!r}")
    if f"cgroup=0::{c.cgroup}" not in out:
        bad.append(f"the container is not in cgroup {c.cgroup}: {out!r}")
    if "top-secret" in out:
        bad.append(f"reading {FORBIDDEN} was not denied: {out!r}")
    denials = [
        r
        for r in records.records(result.step_dmesg(f"container {c.name}"))
        if records.matches(r, {"apparmor": "DENIED", "operation": "open", "name": FORBIDDEN})
    ]
    if not any(records.matches(r, {"profile": profile, "requested_mask": "r"}) for r in denials):
        bad.append(f"the kernel logged no DENIED open of {FORBIDDEN} by {profile}")
    return bad


def problems_rejected(result: VMResult, c: Container) -> list[str]:
    """What is wrong with the claim "runc refused container c: its profile is not loaded"."""
    step, bad = result.step(f"container {c.name}"), []
    if step.rc == 0:
        bad.append(f"runc ran the container (exit 0): {step.output!r}")
    if b"label=" in step.output:
        bad.append(f"the container's process ran: {step.output!r}")
    want = {
        "apparmor": "DENIED",
        "operation": "change_onexec",
        "info": "label not found",
        "name": c.profile,
    }
    if not any(records.matches(r, want) for r in records.records(result.step_dmesg(step.name))):
        bad.append(f"the kernel logged no change_onexec 'label not found' for {c.profile}")
    return bad
