"""`aaprof node check` and `aaprof node load` against a real AppArmor kernel, with runc.

One boot: a host profile is loaded first (not aaprof's); `node check` is compared with
securityfs; a ConfigMap-shaped directory (`..data` swapped by rename) is loaded, edited and
pruned while a runc container runs under one of its profiles. What is asserted is what the
kernel shows and does: securityfs's list and modes, a process's label, DENIED records, exits.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from vm import node, records
from vm.harness import Images, Step, VMResult, Workload, run_workload

pytestmark = pytest.mark.vm

RUNC = node.ROOT_CMD  # a foreground `runc exec` forwards no SIGURG to the container
CM = "/tmp/cm"
STATE = "/tmp/state"
HEAD = "abi <abi/3.0>,\ninclude <tunables/global>\n"


def _profile(name: str, extra: str = "", flags: str = "attach_disconnected,mediate_deleted") -> str:
    return (
        f"{HEAD}profile {name} flags=({flags}) {{\n  include <abstractions/base>\n"
        f"  /bin/** rix,\n  /proc/** r,\n  /dev/** rw,\n{extra}}}\n"
    )


V1 = {
    "k8s-nl-edit": _profile("k8s-nl-edit"),
    "k8s-nl-unused": _profile("k8s-nl-unused"),
    "k8s-nl-used": _profile("k8s-nl-used"),
    "host-clash": _profile("k8s-nl-host"),
}
# v2: the edit allows reading the secret; the clash is dropped
V2 = {**{k: v for k, v in V1.items() if k != "host-clash"}}
V2["k8s-nl-edit"] = _profile("k8s-nl-edit", "  /tmp/data/secret r,\n")
# v3: the unused and the used profile are removed from the directory
V3 = {"k8s-nl-edit": V2["k8s-nl-edit"]}
HOST_PROFILE = _profile("k8s-nl-host", flags="complain")
# the rollback and the uninstall: another host profile, in enforce mode (never touched), and v4
HOST_ENFORCED = _profile("k8s-nlx-host")
V4 = {"k8s-nl-edit": V2["k8s-nl-edit"], "k8s-nl-more": _profile("k8s-nl-more")}

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: a
    image: x
    securityContext:
      appArmorProfile: {type: Localhost, localhostProfile: k8s-nl-host}
  - name: b
    image: x
    securityContext:
      appArmorProfile: {type: Localhost, localhostProfile: k8s-nl-missing}
"""

CONTAINER_CONFIG = {
    "ociVersion": "1.0.2",
    "process": {
        "terminal": False,
        "user": {"uid": 0, "gid": 0},
        "args": ["sh", "-c", "cat /proc/self/attr/current; exec sleep 100000"],
        "env": ["PATH=/bin"],
        "cwd": "/",
        "apparmorProfile": "k8s-nl-used",
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs"},
    "hostname": "used",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"},
    ],
    "linux": {
        "namespaces": [{"type": t} for t in ("pid", "mount", "ipc", "uts")],
        "cgroupsPath": "/kubepods/besteffort/podnodeload/used",
    },
}


def _swap(version: str, names: list[str]) -> str:
    """A kubelet-style ConfigMap update: new directory, `..data` renamed over, links."""
    links = "".join(f"ln -sfn ..data/{n} {CM}/{n}\n" for n in names)
    return (
        f"mkdir -p {CM}/..{version}\ncp /tmp/src/{version}/* {CM}/..{version}/\n"
        f"ln -sfn ..{version} {CM}/..data_tmp\n"
        f"python3 -c \"import os; os.rename('{CM}/..data_tmp', '{CM}/..data')\"\n"
        f'for f in {CM}/*; do [ -e "$f" ] || rm -f "$f"; done\n{links}'
    )


LOAD = f"aaprof node load {CM} --state {STATE} --format json"
LIST = "grep '^k8s-nl-' /sys/kernel/security/apparmor/profiles | sort"
READ_SECRET = "aaexec k8s-nl-edit /bin/cat /tmp/data/secret"
LIST_ALL = "grep '^k8s-nl' /sys/kernel/security/apparmor/profiles | sort"  # k8s-nlx- too
READ_OTHER = "aaexec k8s-nl-edit /bin/cat /tmp/data/other"
UNLOAD = f"aaprof node unload --state {STATE} --format json"
# a process under k8s-nl-more during the first uninstall pass, ended (and reaped) before the next
UNINSTALL = f"""aaexec k8s-nl-more /bin/sleep 100000 > /dev/null 2>&1 &
pid=$!
i=0; while ! grep -q '^k8s-nl-more ' /proc/$pid/attr/current && [ $i -lt 600 ]; do
  sleep 0.1; i=$((i+1)); done
echo label=$(cat /proc/$pid/attr/current)
echo '--- in use'; {UNLOAD}; echo rc=$?; {LIST_ALL}
kill $pid; wait $pid
echo '--- unused'; {UNLOAD}; echo rc=$?; {LIST_ALL}
echo '--- again'; {UNLOAD}; echo rc=$?
"""

STEPS = (
    Step("host profile", "apparmor_parser -r -W /tmp/host-profile"),
    Step(
        "check",
        "aaprof node check --format json > /tmp/check.json; echo rc=$?; "
        "cat /tmp/check.json; echo '--- securityfs'; cat /sys/kernel/security/apparmor/profiles",
        expect=None,
        timeout=120,
    ),
    Step("check pod", "aaprof node check --pod /tmp/pod.yaml", expect=1, timeout=120),
    Step("v1", _swap("v1", sorted(V1)) + f"{LOAD}; echo rc=$?; {LIST}", timeout=120),
    Step("secret before edit", READ_SECRET, expect=None),
    Step("v2", _swap("v2", sorted(V2)) + f"{LOAD}; echo rc=$?; {LIST}", timeout=120),
    Step("secret after edit", READ_SECRET, expect=None),
    Step(
        "start container",
        "set -e; b=/tmp/bundle; mkdir -p $b/rootfs/bin $b/rootfs/proc $b/rootfs/dev\n"
        "cp /bin/busybox $b/rootfs/bin/; for a in sh cat sleep; do ln -s busybox $b/rootfs/bin/$a; "
        "done; echo top-secret > $b/rootfs/secret; cp /tmp/container.json $b/config.json\n"
        f"{RUNC} run -d --no-pivot -b $b used < /dev/null > /tmp/used.log 2>&1\n"
        f"{RUNC} state used",
    ),
    Step(
        "v3 prune",
        _swap("v3", sorted(V3)) + f"{LOAD} --prune; echo rc=$?; {LIST}",
        timeout=120,
    ),
    Step(
        "after prune",
        f"pid=$({RUNC} state used | sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p')\n"
        "echo label=$(cat /proc/$pid/attr/current)\n"
        f"{RUNC} exec used cat /secret; echo exec-rc=$?",
        expect=None,
    ),
    Step(
        "stop container and prune",
        f"{RUNC} delete -f used; {LOAD} --prune; echo rc=$?; {LIST}",
        expect=None,
        timeout=120,
    ),
    Step(
        "v4 enforce",
        "apparmor_parser -r -W /tmp/host-enforced\n"
        + _swap("v4", sorted(V4))
        + f"{LOAD}; echo rc=$?; {LIST_ALL}",
        timeout=120,
    ),
    Step("other in enforce mode", READ_OTHER, expect=None),
    Step("rollback", f"{LOAD} --mode complain; echo rc=$?; {LIST_ALL}", timeout=120),
    Step("other in complain mode", READ_OTHER, expect=None),
    Step("uninstall", UNINSTALL, expect=None, timeout=240),
)


def _files() -> dict[str, bytes]:
    files = {
        "host-profile": HOST_PROFILE.encode(),
        "pod.yaml": POD.encode(),
        "container.json": json.dumps(CONTAINER_CONFIG).encode(),
        "data/secret": b"top-secret\n",
        "data/other": b"other-data\n",
        "host-enforced": HOST_ENFORCED.encode(),
    }
    for version, profiles in (("v1", V1), ("v2", V2), ("v3", V3), ("v4", V4)):
        files.update({f"src/{version}/{n}": t.encode() for n, t in profiles.items()})
    return files


@pytest.fixture(scope="module")
def run(vm_images: Images) -> VMResult:
    result = run_workload(vm_images, Workload(steps=STEPS, files=_files(), timeout=900))
    result.check()
    return result


def _out(run: VMResult, step: str) -> str:
    return run.step(step).output.decode(errors="replace")


def _pass(run: VMResult, step: str) -> dict[str, object]:
    line = next(ln for ln in _out(run, step).splitlines() if ln.startswith("{"))
    data: dict[str, object] = json.loads(line)
    return data


def _actions(run: VMResult, step: str) -> dict[str, str]:
    profiles = _pass(run, step)["profiles"]
    assert isinstance(profiles, list)
    return {p["name"]: p["action"] for p in profiles}


def _listed(run: VMResult, step: str) -> set[str]:
    return {ln for ln in _out(run, step).splitlines() if ln.startswith("k8s-nl-")}


def test_check_reports_the_guest_truthfully(run: VMResult) -> None:
    out = _out(run, "check")
    head, _, securityfs = out.partition("--- securityfs\n")
    assert head.startswith("rc=0"), out
    report = json.loads(head.split("\n", 1)[1])
    levels = {f["check"]: (f["level"], f["detail"]) for f in report["findings"]}
    assert levels["kernel"] == ("ok", "AppArmor enabled")
    assert levels["securityfs"] == ("ok", "mounted at /sys/kernel/security")
    kernel = {
        ln.rsplit(" (", 1)[0]: ln.rsplit(" (", 1)[1].rstrip(")") for ln in securityfs.splitlines()
    }
    assert {p["name"]: p["mode"] for p in report["profiles"]} == kernel
    assert kernel["k8s-nl-host"] == "complain"


def test_check_flags_a_pod_whose_profile_is_not_loaded(run: VMResult) -> None:
    out = _out(run, "check pod")
    assert "profile 'k8s-nl-host' loaded (complain)" in out
    assert (
        "problem  pod /tmp/pod.yaml: Pod/web container b: profile 'k8s-nl-missing' is not loaded"
        in out
    )


def test_load_refuses_the_host_profile_and_loads_the_rest(run: VMResult) -> None:
    assert "rc=1" in _out(run, "v1")  # the refusal is a problem: exit 1
    assert _actions(run, "v1") == {
        "k8s-nl-edit": "loaded",
        "k8s-nl-unused": "loaded",
        "k8s-nl-used": "loaded",
        "k8s-nl-host": "refused",
    }
    assert _listed(run, "v1") == {
        "k8s-nl-edit (enforce)",
        "k8s-nl-unused (enforce)",
        "k8s-nl-used (enforce)",
        "k8s-nl-host (complain)",  # still the host's: not replaced by the enforce clash
    }


def test_edited_profile_is_applied_by_the_kernel(run: VMResult) -> None:
    before = run.step("secret before edit")
    assert before.rc != 0 and b"top-secret" not in before.output
    denied = {"apparmor": "DENIED", "operation": "open", "profile": "k8s-nl-edit"}
    assert any(
        records.matches(r, denied) for r in records.records(run.step_dmesg("secret before edit"))
    )
    assert "rc=0" in _out(run, "v2")
    assert _actions(run, "v2") == {
        "k8s-nl-edit": "loaded",
        "k8s-nl-unused": "unchanged",
        "k8s-nl-used": "unchanged",
    }
    after = run.step("secret after edit")
    assert after.rc == 0 and b"top-secret" in after.output, after.output


def test_prune_unloads_unused_and_keeps_the_running_containers(run: VMResult) -> None:
    actions = _actions(run, "v3 prune")
    assert actions["k8s-nl-unused"] == "unloaded"
    assert actions["k8s-nl-used"] == "kept"
    assert _listed(run, "v3 prune") == {
        "k8s-nl-edit (enforce)",
        "k8s-nl-used (enforce)",
        "k8s-nl-host (complain)",
    }
    after = _out(run, "after prune")
    assert "label=k8s-nl-used (enforce)" in after, after
    assert "top-secret" not in after and "exec-rc=0" not in after, after
    denied = {
        "apparmor": "DENIED",
        "operation": "open",
        "profile": "k8s-nl-used",
        "name": "/secret",
    }
    assert any(records.matches(r, denied) for r in records.records(run.step_dmesg("after prune")))


def test_prune_unloads_once_the_container_is_gone(run: VMResult) -> None:
    step = "stop container and prune"
    assert _actions(run, step).get("k8s-nl-used") == "unloaded", _out(run, step)
    assert _listed(run, step) == {"k8s-nl-edit (enforce)", "k8s-nl-host (complain)"}


def _kernel(text: str) -> set[str]:
    """The `k8s-nl*` lines of securityfs's profile list in an output (NAME (MODE))."""
    return {ln for ln in text.splitlines() if ln.startswith("k8s-nl")}


def _json_actions(text: str) -> dict[str, str]:
    doc = json.loads(next(ln for ln in text.splitlines() if ln.startswith("{")))
    return {p["name"]: p["action"] for p in doc["profiles"]}


def test_rollback_reloads_only_its_profiles_in_complain_mode(run: VMResult) -> None:
    out = _out(run, "v4 enforce")
    assert "rc=0" in out and _kernel(out) == {
        "k8s-nl-edit (enforce)",
        "k8s-nl-more (enforce)",
        "k8s-nl-host (complain)",
        "k8s-nlx-host (enforce)",
    }, out
    before = run.step("other in enforce mode")
    assert before.rc != 0 and b"other-data" not in before.output
    out = _out(run, "rollback")
    assert "rc=0" in out, out
    assert _actions(run, "rollback") == {"k8s-nl-edit": "loaded", "k8s-nl-more": "loaded"}
    assert _kernel(out) == {
        "k8s-nl-edit (complain)",
        "k8s-nl-more (complain)",
        "k8s-nl-host (complain)",
        "k8s-nlx-host (enforce)",  # the host's own: not aaprof's to change
    }, out
    # the kernel applies it: the read it denied is now allowed, and logged as ALLOWED
    after = run.step("other in complain mode")
    assert after.rc == 0 and b"other-data" in after.output, after.output
    allowed = {"apparmor": "ALLOWED", "operation": "open", "profile": "k8s-nl-edit"}
    logged = records.records(run.step_dmesg("other in complain mode"))
    assert any(records.matches(r, allowed) for r in logged)


def test_uninstall_unloads_only_what_aaprof_loaded(run: VMResult) -> None:
    out = _out(run, "uninstall")
    head, _, rest = out.partition("--- in use\n")
    in_use, _, rest = rest.partition("--- unused\n")
    unused, _, again = rest.partition("--- again\n")
    assert "label=k8s-nl-more (complain)" in head, out
    # a profile still confining a process is kept (exit 1), the rest unloaded
    assert "rc=1" in in_use, out
    assert _json_actions(in_use) == {"k8s-nl-edit": "unloaded", "k8s-nl-more": "kept"}
    assert _kernel(in_use) == {
        "k8s-nl-more (complain)",
        "k8s-nl-host (complain)",
        "k8s-nlx-host (enforce)",
    }, out
    assert "rc=0" in unused, out
    assert _json_actions(unused) == {"k8s-nl-more": "unloaded"}
    # the host's profiles, one with a name aaprof refused to replace, are still loaded as they were
    assert _kernel(unused) == {"k8s-nl-host (complain)", "k8s-nlx-host (enforce)"}, out
    assert "rc=0" in again and _json_actions(again) == {}, out


# --- the aaprof image built by `./dev.sh image`, run by runc in the guest --------------------

REPO = Path(__file__).resolve().parents[2]
IMAGE_INPUTS = ("scripts/build-image.sh", "scripts/unpack-wheel.py", "pyproject.toml", "setup.py")
IMAGE_PROFILE = _profile("k8s-img-loaded")


def _bind(destination: str, source: str, mode: str) -> dict[str, object]:
    return {
        "destination": destination,
        "type": "bind",
        "source": source,
        "options": ["rbind", mode],
    }


# as the DaemonSet runs it: the host's PID namespace, securityfs and a state directory mounted,
# privileged enough to load policy, not confined
IMAGE_CONFIG = {
    "ociVersion": "1.0.2",
    "process": {
        "terminal": False,
        "user": {"uid": 0, "gid": 0},
        "args": ["aaprof", "node", "load", "/profiles", "--state", "/state", "--format", "json"],
        "env": ["PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/root"],
        "cwd": "/",
        "capabilities": {
            k: ["CAP_MAC_ADMIN", "CAP_SYS_ADMIN", "CAP_DAC_OVERRIDE", "CAP_SYS_PTRACE"]
            for k in ("bounding", "effective", "permitted")
        },
    },
    "root": {"path": "rootfs"},
    "hostname": "aaprof-loader",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        _bind("/dev", "/dev", "rw"),
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"},
        _bind("/sys/kernel/security", "/sys/kernel/security", "rw"),
        _bind("/profiles", "/tmp/img-profiles", "ro"),
        _bind("/state", "/tmp/img-state", "rw"),
    ],
    "linux": {
        "namespaces": [{"type": t} for t in ("mount", "ipc", "uts")],
        "cgroupsPath": "/kubepods/besteffort/podloader/loader",
    },
}


@dataclass(frozen=True)
class Built:
    """The image `./dev.sh image` built: its root filesystem (.tar.gz), the name it says, the
    tag of its OCI layout, and what `--help` of the loader's and watch's commands printed when
    run in its root filesystem with chroot."""

    rootfs: Path
    name: str
    tag: str
    help: dict[str, str]


def _chroot_help(rootfs: Path, *command: str) -> str:
    done = subprocess.run(
        ["chroot", str(rootfs), "/usr/local/bin/aaprof", *command, "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"aaprof {' '.join(command)} --help in the image failed:\n{done.stderr}")
    return done.stdout


def _built_image() -> Built:
    """The aaprof image, built by `./dev.sh image` (cached in .cache/aaprof-image by the hash
    of the build script, the wheel unpacker, pyproject.toml, setup.py, aaprof's sources and the
    templates): the build itself imports every module of the loader and watch in the image."""
    digest = hashlib.sha256()
    sources = [REPO / p for p in IMAGE_INPUTS]
    sources += sorted(
        p for p in (REPO / "aaprof").rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )
    sources += sorted((REPO / "templates").iterdir())
    for path in sources:
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    cache = REPO / ".cache" / "aaprof-image"
    key = digest.hexdigest()[:16]
    archive = cache / f"rootfs-{key}.tar.gz"
    about = cache / f"image-{key}.json"
    if archive.exists() and about.exists():
        return Built(rootfs=archive, **json.loads(about.read_text()))
    missing = [t for t in ("mmdebstrap", "umoci") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: apt-get install mmdebstrap umoci")
    out = cache / "build"
    done = subprocess.run(
        [str(REPO / "dev.sh"), "image", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"./dev.sh image failed:\n{done.stderr[-3000:]}")
    rootfs = out / "bundle/rootfs"
    (manifest,) = json.loads((out / "oci/index.json").read_text())["manifests"]
    built = Built(
        rootfs=archive,
        name=(out / "image-name").read_text().strip(),
        tag=manifest["annotations"]["org.opencontainers.image.ref.name"],
        help={
            "node load": _chroot_help(rootfs, "node", "load"),
            "watch": _chroot_help(rootfs, "watch"),
        },
    )
    tmp = archive.with_suffix(".tmp")
    subprocess.run(
        ["tar", "-C", str(rootfs), "--exclude=./dev/*", "-czf", str(tmp), "."], check=True
    )
    tmp.rename(archive)
    about.write_text(json.dumps({"name": built.name, "tag": built.tag, "help": built.help}))
    shutil.rmtree(out)
    return built


def _daemon_config(action: str = "load") -> dict[str, object]:
    """The DaemonSet's container: templates/loader.sh (as the bundle embeds it) in complain mode,
    the state directory where the DaemonSet mounts it; `action` its AAPROF_ACTION."""
    config = json.loads(json.dumps(IMAGE_CONFIG))
    config["root"] = {"path": "/tmp/img/rootfs"}
    script = (REPO / "templates/loader.sh").read_text()
    config["process"]["args"] = ["/bin/sh", "-c", script]
    config["process"]["env"] += ["AAPROF_MODE=complain", "AAPROF_INTERVAL=30"]
    config["process"]["env"] += [f"AAPROF_ACTION={action}"]
    for mount in config["mounts"]:
        if mount["destination"] == "/state":
            mount["destination"] = "/var/lib/aaprof/node"
            mount["source"] = "/tmp/img-state2"
        if mount["destination"] == "/profiles":
            mount["source"] = "/tmp/img-profiles2"
    config["linux"]["cgroupsPath"] = "/kubepods/besteffort/podloader/daemon"
    return dict(config)


def _watch_config() -> dict[str, object]:
    """`aaprof watch` from the same image: the kernel's /dev/kmsg read once into a state
    directory (CAP_SYSLOG: /dev/kmsg under dmesg_restrict), with /metrics served as watch's
    DaemonSet serves it (an image without prometheus-client fails here)."""
    config = json.loads(json.dumps(IMAGE_CONFIG))
    config["root"] = {"path": "/tmp/img/rootfs"}
    config["process"]["args"] = [
        *("aaprof", "watch", "--kmsg", "--state", "/state", "--once", "--node", "vm"),
        *("--metrics-address", "0.0.0.0:9750"),  # as the DaemonSet: prometheus-client loads
    ]
    for caps in config["process"]["capabilities"].values():
        caps.append("CAP_SYSLOG")
    config["mounts"] = [m for m in config["mounts"] if m["destination"] != "/profiles"]
    for mount in config["mounts"]:
        if mount["destination"] == "/state":
            mount["source"] = "/tmp/img-state3"
    config["linux"]["cgroupsPath"] = "/kubepods/besteffort/podwatch/watch"
    # the device cgroup lets a container read /dev/kmsg (char 1:11) only when told to
    config["linux"]["resources"] = {
        "devices": [{"allow": True, "type": "c", "major": 1, "minor": 11, "access": "r"}]
    }
    return dict(config)


DAEMON_WAIT = (
    "i=0; while [ ! -f /tmp/img-state2/ready ] && [ $i -lt 1200 ]; do sleep 0.5; i=$((i+1)); done"
)
IMAGE_STEPS = (
    Step(
        "unpack image",
        "set -e; mkdir -p /tmp/img/rootfs /tmp/img-state /tmp/img-profiles\n"
        "tar -xzf /tmp/loader-rootfs.tar.gz -C /tmp/img/rootfs\n"
        "cp /tmp/image-config.json /tmp/img/config.json\n"
        "cp /tmp/image-profile /tmp/img-profiles/k8s-img-loaded",
        timeout=300,
    ),
    Step(
        "image load",
        f"{RUNC} run --no-pivot -b /tmp/img loader < /dev/null; echo rc=$?\n"
        "echo '--- securityfs'; grep '^k8s-img-' /sys/kernel/security/apparmor/profiles",
        expect=None,
        timeout=300,
    ),
    Step(
        "image watch",
        "mkdir -p /tmp/img3 /tmp/img-state3; cp /tmp/watch-config.json /tmp/img3/config.json\n"
        f"{RUNC} run --no-pivot -b /tmp/img3 watch < /dev/null > /tmp/watch.out 2> /tmp/watch.err"
        "; echo rc=$?\n"
        "echo '--- out'; grep -F '\"name\":\"k8s-img-loaded\"' /tmp/watch.out\n"
        "echo '--- err'; cat /tmp/watch.err",
        expect=None,
        timeout=300,
    ),
    Step(
        "image daemon",
        "set -u; mkdir -p /tmp/img2 /tmp/img-state2 /tmp/img-profiles2\n"
        "cp /tmp/daemon-config.json /tmp/img2/config.json\n"
        "cp /tmp/image-profile2 /tmp/img-profiles2/k8s-img-daemon\n"
        f"{RUNC} run -d --no-pivot -b /tmp/img2 daemon < /dev/null > /tmp/daemon.log 2>&1\n"
        f"{DAEMON_WAIT}\n"
        "echo ready=$(test -f /tmp/img-state2/ready && echo yes)\n"
        "echo '--- status'; cat /tmp/img-state2/status.json\n"
        "echo '--- securityfs'; grep '^k8s-img-daemon' /sys/kernel/security/apparmor/profiles\n"
        f"{RUNC} kill daemon TERM\n"
        f"i=0; while {RUNC} state daemon | grep -q running && [ $i -lt 600 ]; do sleep 0.2; "
        "i=$((i+1)); done\n"
        f"echo '--- after TERM'; {RUNC} state daemon | grep '\"status\"'; cat /tmp/daemon.log",
        expect=None,
        timeout=400,
    ),
    # the uninstall: the same state directory, AAPROF_ACTION=unload (kubectl set env); `ready`
    # removed first, so that it appears again only after the unload's pass
    Step(
        "image daemon unload",
        "set -u; mkdir -p /tmp/img4; cp /tmp/daemon-unload-config.json /tmp/img4/config.json\n"
        "rm -f /tmp/img-state2/ready\n"
        f"{RUNC} run -d --no-pivot -b /tmp/img4 unload < /dev/null > /tmp/unload.log 2>&1\n"
        f"{DAEMON_WAIT}\n"
        "echo ready=$(test -f /tmp/img-state2/ready && echo yes)\n"
        "echo '--- state'; cat /tmp/img-state2/state.json\n"
        "echo '--- securityfs'; grep '^k8s-img-' /sys/kernel/security/apparmor/profiles\n"
        f"{RUNC} kill unload TERM\n"
        f"i=0; while {RUNC} state unload | grep -q running && [ $i -lt 600 ]; do sleep 0.2; "
        "i=$((i+1)); done\n"
        "echo '--- log'; cat /tmp/unload.log",
        expect=None,
        timeout=400,
    ),
)


@pytest.fixture(scope="module")
def image_run(vm_images: Images) -> VMResult:
    files = {
        "loader-rootfs.tar.gz": _built_image().rootfs.read_bytes(),
        "image-config.json": json.dumps(IMAGE_CONFIG).encode(),
        "image-profile": IMAGE_PROFILE.encode(),
        "image-profile2": _profile("k8s-img-daemon").encode(),
        "daemon-config.json": json.dumps(_daemon_config()).encode(),
        "daemon-unload-config.json": json.dumps(_daemon_config("unload")).encode(),
        "watch-config.json": json.dumps(_watch_config()).encode(),
    }
    result = run_workload(vm_images, Workload(steps=IMAGE_STEPS, files=files, timeout=900))
    result.check()
    return result


def test_the_loader_image_loads_profiles_into_the_guest_kernel(image_run: VMResult) -> None:
    out = _out(image_run, "image load")
    inside, _, kernel = out.partition("--- securityfs\n")
    assert "rc=0" in inside, out
    assert _actions(image_run, "image load") == {"k8s-img-loaded": "loaded"}
    assert kernel.splitlines() == ["k8s-img-loaded (enforce)"]


def test_watch_runs_in_the_same_image(image_run: VMResult) -> None:
    """The image's `aaprof watch` reads the guest kernel's /dev/kmsg: the load of the step
    before is one of its JSON lines."""
    out = _out(image_run, "image watch")
    head, _, rest = out.partition("--- out\n")
    lines, _, err = rest.partition("--- err\n")
    assert "rc=0" in head, out
    events = [json.loads(line) for line in lines.splitlines()]
    assert any(e.get("operation") == "profile_load" for e in events), out
    assert "kmsg" in err, out  # it says what it follows


def test_the_daemonset_loader_script_runs_in_the_image(image_run: VMResult) -> None:
    out = _out(image_run, "image daemon")
    head, _, rest = out.partition("--- status\n")
    status_text, _, rest = rest.partition("--- securityfs\n")
    kernel, _, after = rest.partition("--- after TERM\n")
    assert "ready=yes" in head, out
    status = json.loads(status_text)
    assert status["ok"] is True
    assert [(p["name"], p["action"]) for p in status["profiles"]] == [("k8s-img-daemon", "loaded")]
    assert kernel.splitlines() == ["k8s-img-daemon (complain)"]  # AAPROF_MODE=complain
    assert '"status": "stopped"' in after, out  # SIGTERM ends --watch


def test_the_daemonset_uninstall_unloads_only_what_it_loaded(image_run: VMResult) -> None:
    out = _out(image_run, "image daemon unload")
    head, _, rest = out.partition("--- state\n")
    state_text, _, rest = rest.partition("--- securityfs\n")
    kernel, _, log = rest.partition("--- log\n")
    assert "ready=yes" in head, out  # Ready: everything it loaded is gone
    assert json.loads(state_text)["owned"] == {}, out
    assert "unloaded   k8s-img-daemon" in log, out
    # k8s-img-loaded was loaded by another loader (another state): not this one's to unload
    assert kernel.splitlines() == ["k8s-img-loaded (enforce)"], out


def test_the_image_runs_the_loader_and_watch_commands() -> None:
    """`aaprof node load --help` and `aaprof watch --help` ran in the built root filesystem
    (chroot): the one image holds both commands."""
    built = _built_image()
    assert "Usage: aaprof node load" in built.help["node load"]
    assert "Usage: aaprof watch" in built.help["watch"]


def _images(directory: Path) -> set[str]:
    """The images of the DaemonSets in the YAML files under `directory`."""
    found = set()
    for path in directory.rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "DaemonSet":
                for container in doc["spec"]["template"]["spec"]["containers"]:
                    found.add(container["image"])
    return found


def test_the_manifests_name_the_image_that_was_built(tmp_path: Path) -> None:
    """The bundle of `aaprof generate` and the manifests of `aaprof watch --manifests` both
    name, by default, the image `./dev.sh image` built: its name, with its OCI layout's tag."""
    built = _built_image()
    assert built.name.rsplit(":", 1)[1] == built.tag
    for args in (
        ["generate", str(REPO / "sample-logs/node-a"), "--out", str(tmp_path / "gen"), "-q"],
        ["watch", "--manifests", str(tmp_path / "watch")],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "aaprof", *args], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
    assert _images(tmp_path / "gen" / "k8s") == {built.name}
    assert _images(tmp_path / "watch") == {built.name}
