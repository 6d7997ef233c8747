"""Coverage agrees with the kernel: every probe's outcome under a real AppArmor kernel (did the
confined access work) equals `decide`'s answer for the same profile text, and the kernel logs
exactly the probes `decide` calls audited."""

from __future__ import annotations

import errno
import json

import pytest

from aaprof.model.profile import PolicyFile
from aaprof.profiles.build import parse_policy
from aaprof.profiles.coverage import Access, Decision, decide, find_profile, policy_variables
from vm import coverage_probes as cp
from vm import records
from vm.harness import Images, VMResult, Workload, run_workload

pytestmark = pytest.mark.vm

PERMS = {
    "read": "r", "write": "w", "append": "a", "create": "c", "mkdir": "c", "unlink": "d",
    "rmdir": "d", "lock": "rwk", "lock-sh": "rk", "mmap": "rm", "exec": "x", "link": "l",
}  # fmt: skip
OWNERS = dict(cp.TREE)


@pytest.fixture(scope="module")
def kernel(vm_images: Images) -> VMResult:
    result = run_workload(vm_images, Workload(steps=cp.steps(), files=cp.files()))
    result.check()
    return result


@pytest.fixture(scope="module")
def outcomes(kernel: VMResult) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for data in kernel.files.values():
        for line in data.decode().splitlines():
            res = json.loads(line)
            out[res["key"]] = res
    return out


def access_of(probe: cp.Probe) -> Access:
    """The access a probe makes, as `decide` takes it."""
    owner_of = probe.target if probe.op == "link" else probe.path
    assert owner_of is not None
    ouid = probe.uid if probe.op in ("create", "mkdir") else OWNERS.get(owner_of, 0)
    target = f"/tmp/cov/{probe.target}" if probe.target else None
    return Access(f"/tmp/cov/{probe.path}", frozenset(PERMS[probe.op]), probe.uid, ouid, target)


def label_after_exec(policy: PolicyFile, profile: str, d: Decision) -> str:
    """The label an allowed exec runs under, from the decision's transition."""
    assert d.exec is not None
    mode, target = d.exec.mode.lower(), d.exec.target
    if mode == "ix":
        return profile
    if mode == "ux":
        return "unconfined"
    if mode.startswith("c"):
        return f"{profile}//{target}"
    if target:
        return target
    attached = [p.name for p in policy.profiles() if p.attachment == d.access.name]
    return attached[0] if attached else profile  # pix falls back to inherit


def test_coverage_agrees_with_kernel(
    kernel: VMResult, outcomes: dict[str, dict[str, object]]
) -> None:
    policy = parse_policy(cp.POLICY, filename="coverage-policy")
    variables = policy_variables(policy)
    probes = cp.probes()
    assert len(probes) >= 200
    mismatches, broken = [], []
    for probe in probes:
        got = outcomes.get(probe.key)
        if got is None:
            broken.append(f"{probe.key}: never ran")
            continue
        if not got["ok"] and got["errno"] != errno.EACCES:
            broken.append(f"{probe.key}: failed for another reason: {got}")
            continue
        d = decide(find_profile(policy, probe.profile), access_of(probe), variables)
        if d.ok != got["ok"]:
            mismatches.append(f"{probe.key}: kernel {'allows' if got['ok'] else 'denies'}, "
                              f"aaprof {d.verdict} ({sorted(d.denied)} denied)")  # fmt: skip
        elif d.ok and probe.op == "exec":
            want = label_after_exec(policy, probe.profile, d)
            label = str(got["label"]).removesuffix(" (enforce)")
            if label != want:
                mismatches.append(f"{probe.key}: kernel ran it as {label!r}, aaprof {want!r}")
    assert not broken, "\n".join(broken)
    assert not mismatches, f"{len(mismatches)}/{len(probes)} disagree:\n" + "\n".join(mismatches)


def test_kernel_logs_what_coverage_calls_audited(kernel: VMResult) -> None:
    policy = parse_policy(cp.POLICY, filename="coverage-policy")
    variables = policy_variables(policy)
    logged = [r for r in records.records(kernel.dmesg.splitlines())
              if r.get("name", b"").startswith(b"/tmp/cov/")]  # fmt: skip
    wrong = []
    for probe in cp.probes():
        d = decide(find_profile(policy, probe.profile), access_of(probe), variables)
        kernel_logged = any(is_record_of(r, probe, d.access) for r in logged)
        if kernel_logged != d.audited:
            wrong.append(f"{probe.key}: kernel {'logs' if kernel_logged else 'is silent'}, "
                         f"aaprof audited={d.audited}")  # fmt: skip
    assert not wrong, "\n".join(wrong)


def is_record_of(record: records.Record, probe: cp.Probe, access: Access) -> bool:
    """Whether a kernel record is about this probe: same profile, name, fsuid and a shared
    permission (records come out of kauditd later than the access, so order cannot tell)."""
    if (
        record.get("profile") != probe.profile.encode()
        or record.get("name") != access.name.encode()
    ):
        return False
    if record.get("fsuid", str(probe.uid).encode()) != str(probe.uid).encode():
        return False
    if probe.op == "link":  # the record names what the subset test found missing
        return True
    mask = record.get("requested_mask", b"").decode()
    asked = {"w" if p in "cd" else p for p in mask}
    return bool(asked & access.requested)
