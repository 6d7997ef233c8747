"""The catalogue's loop in the test VM: each entry's component, its scripted workload, its probes.

One boot serves every entry. A learning boot (`scripts/catalogue-learn.py`) loads each entry's
profile empty in complain mode and runs the `learn` workload; an enforce boot
(`tests/vm/test_catalogue.py`) loads the committed profiles as they ship and runs the `enforce`
workload (other data, other counts, a restart), then the probes (`catalogue_guest/probe.py`).
The components are the host's own programs, copied into the guest at the path the entry names,
with the libraries `ldd` names.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from aaprof import catalogue
from vm import records
from vm.harness import Step, VMResult, Workload
from vm.loop_checks import profile_records, show

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
GUEST = HERE / "catalogue_guest"
POLICY = "catalogue-policy"  # under /tmp: the boot's policy files
LOAD = "load profiles"
LIST = "loaded profiles"
SHADOW = "root:$6$aaprof$notarealhash:19000:0:99999:7:::\n"
# the files of an entry's Debian package it reads besides its program, copied to the same path
DATA = {
    "alertmanager": tuple(
        f"/usr/share/prometheus/alertmanager/{n}.tmpl" for n in ("default", "email")
    ),
    "influxdb": ("/etc/influxdb/influxdb.conf",),
}
# how each component prints its version, when not `--version`
VERSION = {"influxdb": "version"}


@dataclass(frozen=True, slots=True)
class Probe:
    """An access the component never needs, and the DENIED record that shows it refused."""

    name: str
    records: tuple[dict[str, str], ...]  # any of these (the kernel checks a capability first)


PROBES = (
    Probe("shadow-read", ({"operation": "open", "name": "/etc/shadow"},)),
    Probe("usr-write", ({"name": "/usr/aaprof-probe"},)),
    Probe("etc-write", ({"name": "/etc/aaprof-probe"},)),
    Probe("ptrace", ({"operation": "ptrace"}, {"operation": "capable", "capname": "sys_ptrace"})),
    Probe("module", ({"operation": "capable", "capname": "sys_module"},)),
    Probe("mount", ({"operation": "capable", "capname": "sys_admin"}, {"operation": "mount"})),
)


def program(e: catalogue.Entry) -> Path:
    """The host program the entry's component is (built or installed), to copy into the guest."""
    if e.name == "etcd":
        done = subprocess.run(
            [str(REPO / "tests/cluster/build-go.sh"), "--where", "etcd"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise FileNotFoundError(f"etcd is not built: {done.stderr.strip()}")
        return Path(done.stdout.strip().splitlines()[-1]) / "etcd"
    return Path(e.attach)


def _libraries(path: Path) -> list[str]:
    out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=False).stdout
    return re.findall(r"(/\S+) \(0x", out)


def files(entries: tuple[catalogue.Entry, ...]) -> dict[str, bytes]:
    """The guest's /tmp: each program (and its libraries), the workloads and the probe."""
    out = {
        "catalogue/probe.py": (GUEST / "probe.py").read_bytes(),
        "catalogue/common.py": (GUEST / "common.py").read_bytes(),
        "catalogue/shadow": SHADOW.encode(),
    }
    for e in entries:
        prog = program(e)
        out[f"catalogue/bin/{e.name}"] = prog.read_bytes()
        for lib in _libraries(prog):
            out[f"catalogue/lib{lib}"] = Path(lib).read_bytes()
        for path in DATA.get(e.name, ()):
            out[f"catalogue/root{path}"] = Path(path).read_bytes()
        out[f"catalogue/{e.name}_workload.py"] = (GUEST / f"{e.name}_workload.py").read_bytes()
    return out


def _install(entries: tuple[catalogue.Entry, ...]) -> str:
    lines = [
        "set -e",
        "ip link set lo up",
        "mkdir -p /etc/prometheus /var/lib/prometheus",
        "cp /tmp/catalogue/shadow /etc/shadow && chmod 0640 /etc/shadow",
        "[ -d /tmp/catalogue/lib ] && cp -an /tmp/catalogue/lib/. / || true",
        "[ -d /tmp/catalogue/root ] && cp -a /tmp/catalogue/root/. / || true",
    ]
    for e in entries:
        lines.append(f"mkdir -p {Path(e.attach).parent}")
        lines.append(f"cp /tmp/catalogue/bin/{e.name} {e.attach} && chmod 0755 {e.attach}")
    return "\n".join(lines) + "\n"


def empty_policy(entries: tuple[catalogue.Entry, ...]) -> str:
    """Every entry's profile, empty, in complain mode: what the learning boot runs under."""
    parts = ["abi <abi/3.0>,\ninclude <tunables/global>\n"]
    parts += [f"profile {e.profile_name} flags=(complain) {{\n}}\n" for e in entries]
    return "\n".join(parts)


def workload(
    entries: tuple[catalogue.Entry, ...], policy: dict[str, bytes], variant: str
) -> Workload:
    """One boot: install the programs, load `policy` (file name → text), run each entry's
    workload (`learn` or `enforce`); the enforce boot then runs the probes."""
    load = (
        f"for f in /tmp/{POLICY}/*; do\n"
        '  apparmor_parser -r -W "$f" || echo "load failed: ${f##*/}"\n'
        "done\n"
    )
    steps = [
        Step("install", _install(entries)),
        Step(LOAD, load, expect=None),
        Step(LIST, "cat /sys/kernel/security/apparmor/profiles | sort", expect=None),
    ]
    for e in entries:
        flag = VERSION.get(e.name, "--version")
        steps.append(Step(f"{e.name}: version", f"{e.attach} {flag} 2>&1"))
        steps.append(
            Step(f"{e.name}: workload", f"python3 /tmp/catalogue/{e.name}_workload.py {variant}")
        )
        if variant == "enforce":
            steps.append(
                Step(f"{e.name}: probe", f"python3 /tmp/catalogue/probe.py {e.profile_name}")
            )
    all_files = {**files(entries), **{f"{POLICY}/{n}": d for n, d in policy.items()}}
    return Workload(steps=tuple(steps), files=all_files)


def version(result: VMResult, e: catalogue.Entry) -> str | None:
    """The component's version, as its `--version` printed it in the guest (None: none found)."""
    found = re.search(r"\d+\.\d+\.\d+\S*", result.step(f"{e.name}: version").output.decode())
    return found.group(0) if found else None


def problems_loaded(result: VMResult, entries: tuple[catalogue.Entry, ...], mode: str) -> list[str]:
    """What is wrong with "every entry's profile loaded, in `mode`"."""
    load, bad = result.step(LOAD), []
    if load.rc != 0 or b"load failed" in load.output:
        bad.append(f"apparmor_parser: exit {load.rc}\n{load.output.decode(errors='replace')}")
    listed = result.step(LIST).output.decode(errors="replace").splitlines()
    for e in entries:
        if f"{e.profile_name} ({mode})" not in listed:
            bad.append(f"{e.name}: {e.profile_name} ({mode}) not among the loaded: {listed}")
    return bad


def problems_workload(result: VMResult, e: catalogue.Entry) -> list[str]:
    """What is wrong with "the enforce workload passed its checks with no DENIED record"."""
    step, bad = result.step(f"{e.name}: workload"), []
    if step.rc != 0:
        bad.append(f"{e.name}: the workload exited {step.rc}")
    denied = [
        r
        for r in profile_records(result, step.name, e.profile_name)
        if r.get("apparmor") == b"DENIED"
    ]
    if denied:
        bad.append(f"{e.name}: {len(denied)} DENIED record(s):\n{show(denied)}")
    if bad:
        bad.append("output:\n" + step.output.decode(errors="replace")[-3000:])
    return bad


def problems_probes(result: VMResult, e: catalogue.Entry) -> list[str]:
    """What is wrong with "each probe failed, and the kernel logged a DENIED record for it"."""
    step = result.step(f"{e.name}: probe")
    errnos = dict(re.findall(r"^probe (\S+) errno (\d+)$", step.output.decode(), re.MULTILINE))
    got = [
        r
        for r in profile_records(result, step.name, e.profile_name)
        if r.get("apparmor") == b"DENIED"
    ]
    bad = []
    for p in PROBES:
        if errnos.get(p.name, "0") == "0":
            bad.append(f"{e.name}: {p.name}: allowed (errno {errnos.get(p.name)})")
        if not any(records.matches(r, want) for want in p.records for r in got):
            bad.append(f"{e.name}: {p.name}: no DENIED record like {p.records}")
    if bad:
        bad.append(f"output: {step.output!r}\nrecords:\n{show(got)}")
    return bad
