"""The closed loop's claims as checks: each returns what is wrong (empty: nothing), naming the
workload and the records, so the tests can show a check fails on a profile that breaks it."""

from __future__ import annotations

import re

from vm import loop, records
from vm.harness import VMResult

LOAD = "load profiles"
LIST = "loaded profiles"
WIDE_OPEN = "file,\n  capability,\n  signal,\n  ptrace,\n  unix,\n  network,"


def profile_records(result: VMResult, step: str, profile: str) -> list[records.Record]:
    """The AppArmor records of `profile` (or its children) among the lines of `step`."""
    own = profile.encode()
    return [
        r
        for r in records.records(result.step_dmesg(step))
        if r.get("profile") == own or r.get("profile", b"").startswith(own + b"//")
    ]


def show(rs: list[records.Record]) -> str:
    """The records, one a line, with the fields that tell them apart."""
    keep = ("apparmor", "operation", "profile", "name", "requested_mask", "capname", "peer", "info")
    return "\n".join("  " + " ".join(f"{k}={r[k]!r}" for k in keep if k in r) for r in rs)


def profiles(body: str, names: list[str]) -> str:
    """One policy file: a profile per name with `body`, in enforce mode."""
    flags = "flags=(attach_disconnected, mediate_deleted)"
    parts = ["abi <abi/3.0>,\ninclude <tunables/global>\n"]
    parts += [f"profile {n} {flags} {{\n  {body}\n}}\n" for n in names]
    return "\n".join(parts)


def problems_loaded(result: VMResult, names: list[str]) -> list[str]:
    """What is wrong with "every profile in `names` loaded, in enforce mode"."""
    load, bad = result.step(LOAD), []
    if load.rc != 0 or b"load failed" in load.output:
        bad.append(f"apparmor_parser: exit {load.rc}\n{load.output.decode(errors='replace')}")
    listed = result.step(LIST).output.decode(errors="replace").splitlines()
    got = sorted(line for line in listed if "//" not in line)
    want = sorted(f"{n} (enforce)" for n in names)
    if got != want:
        bad.append(f"loaded: {got}, expected {want}")
    return bad


def problems_denied(result: VMResult, w: loop.AnyWorkload) -> list[str]:
    """What is wrong with "the run of `w` had no DENIED record" (a refused change to its
    profile, `info="label not found"` when it is not loaded, counts as one)."""
    step = f"{w.name}: run"
    rs = profile_records(result, step, w.profile)
    rs += [
        r for r in records.records(result.step_dmesg(step)) if r.get("name") == w.profile.encode()
    ]
    denied = [r for r in rs if r.get("apparmor") == b"DENIED"]
    return [f"{w.name}: {len(denied)} DENIED record(s):\n{show(denied)}"] if denied else []


def problems_output(learn: VMResult, enforce: VMResult, w: loop.AnyWorkload) -> list[str]:
    """What is wrong with "the run of `w` exited and printed the same in both boots"."""
    before, after = learn.step(f"{w.name}: run"), enforce.step(f"{w.name}: run")
    if (after.rc, after.output) == (before.rc, before.output):
        return []
    return [
        f"{w.name}: output differs\ncomplain: exit {before.rc}\n"
        f"{before.output.decode(errors='replace')}\nenforce: exit {after.rc}\n"
        f"{after.output.decode(errors='replace')}"
    ]


def problems_probe(result: VMResult, w: loop.AnyWorkload) -> list[str]:
    """What is wrong with "each access of `w`'s probe failed, with its DENIED record"."""
    step = result.step(f"{w.name}: probe")
    got = profile_records(result, step.name, w.profile)
    bad = []
    rcs = re.findall(rb"^rc (\S+) (\d+)$", step.output, re.MULTILINE)
    for name, rc in rcs or [(b"probe", str(step.rc).encode())]:
        if rc == b"0":
            bad.append(f"{w.name}: {name.decode()}: exit 0, the access was allowed")
    for want in w.denied:
        if not any(records.matches(r, {"apparmor": "DENIED", **want}) for r in got):
            bad.append(f"{w.name}: no DENIED record {want}")
    if bad:
        bad.append(f"output: {step.output!r}\nrecords:\n{show(got)}")
    return bad
