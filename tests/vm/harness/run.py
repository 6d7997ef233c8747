"""Boot the test VM, run a workload's steps in it and collect what it produced."""

from __future__ import annotations

import io
import py_compile
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aaprof
from aaprof.errors import AaprofError
from vm.harness import guest
from vm.harness.image import Images, install_hint, make_ext4

QEMU = "qemu-system-x86_64"
# log_buf_len: the kernel log holds every record of a run (the default 128 KiB would wrap);
# audit_backlog_limit: records waiting for kauditd before the kernel drops them (default 64);
# printk.devkmsg=on: markers written to /dev/kmsg are never rate limited;
# no_timer_check: the kernel does not time the IO-APIC timer at boot (under emulation on a busy
# host the ticks come late, and it panics: "IO-APIC + timer doesn't work!")
CMDLINE = (
    "console=ttyS0 panic=-1 audit=1 quiet log_buf_len=16M audit_backlog_limit=65536 "
    "printk.devkmsg=on no_timer_check"
)
OUT_DISK_MB = 64
POLL_SECONDS = 0.25


@dataclass(frozen=True, slots=True)
class Step:
    """One shell snippet run by the guest's busybox sh, in /tmp, as root.

    `expect` is the exit status the step must have (None: any). The snippet finds the run's
    files in /tmp (copied from `Workload.files`), `$IN` (/run/in, read-only), and hands files
    back by writing them under `$OUT`.
    """

    name: str
    script: str
    expect: int | None = 0
    timeout: int = 600  # seconds; the guest kills the step after it (generous: a loaded host)


@dataclass(frozen=True, slots=True)
class Workload:
    """Steps to run in one boot, files to put in the guest's /tmp, and whether auditd runs.

    `boot_timeout` limits the time until the guest is ready to run steps, `timeout` the time
    from then until it powers off (both wall-clock seconds, generous: under emulation on a busy
    host a boot that takes 8 s can take ten times that). Past either, the run fails naming
    where the guest was.
    """

    steps: tuple[Step, ...]
    files: Mapping[str, bytes] = field(default_factory=dict)
    auditd: bool = False
    timeout: float = 1800.0
    boot_timeout: float = 600.0


@dataclass(frozen=True, slots=True)
class StepResult:
    """A step's exit status and its output (stdout and stderr together)."""

    index: int
    name: str
    rc: int
    output: bytes
    expect: int | None

    @property
    def ok(self) -> bool:
        """Whether the step exited as expected."""
        return self.expect is None or self.rc == self.expect


@dataclass(frozen=True, slots=True)
class VMResult:
    """What one boot produced."""

    console: str
    dmesg: bytes
    audit_log: bytes | None
    steps: tuple[StepResult, ...]
    files: Mapping[str, bytes]
    seconds: float
    audit_status: str = ""  # `auditctl -s` after the last step
    unflushed: tuple[str, ...] = ()  # steps whose records never reached the log, and why

    @property
    def audit_lost(self) -> int | None:
        """How many records the kernel's audit dropped (backlog, rate limit), if it said."""
        found = re.search(r"^lost (\d+)$", self.audit_status, re.MULTILINE)
        return int(found.group(1)) if found else None

    def step(self, name: str) -> StepResult:
        """The result of the step called `name`."""
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    def step_dmesg(self, name: str) -> list[bytes]:
        """The kernel log lines written while step `name` ran (between its markers)."""
        return self._between_markers(self.dmesg, name)

    def step_audit(self, name: str) -> list[bytes]:
        """The audit.log lines written while step `name` ran (between its USER markers)."""
        return self._between_markers(self.audit_log or b"", name)

    def _between_markers(self, log: bytes, name: str) -> list[bytes]:
        mark = f"aaprof-step {self.step(name).index:03d} ".encode()
        lines, inside = [], False
        for line in log.splitlines():
            if mark in line:
                inside = b" begin" in line
                continue
            if inside:
                lines.append(line)
        return lines

    def check(self) -> None:
        """Raise StepFailed naming every step that did not exit as expected, and VMError if
        the kernel's log may lack records (a step's end marker never came, records lost)."""
        bad = [s for s in self.steps if not s.ok]
        if bad:
            parts = [
                f"step {s.index:03d} {s.name!r}: exit {s.rc}, expected {s.expect}\n"
                + s.output.decode(errors="replace")[-2000:]
                for s in bad
            ]
            raise StepFailed("\n".join(parts) + "\n--- console tail ---\n" + self.console[-3000:])
        self.check_log()

    def check_log(self) -> None:
        """Raise VMError if a step's records may be missing from the log: its end marker
        never reached it, or the kernel's audit counted lost records."""
        if self.unflushed:
            raise VMError("the log may lack records of: " + "; ".join(self.unflushed))
        if self.audit_lost:
            raise VMError(
                f"the kernel's audit lost {self.audit_lost} record(s) (backlog or rate limit)"
                f":\n{self.audit_status}"
            )


class VMError(AaprofError):
    """The VM did not boot, did not finish, or produced no results."""


class StepFailed(VMError):
    """A step exited with a status other than the expected one."""


def _input_tree(root: Path, workload: Workload) -> None:
    (root / "run.sh").write_text(guest.RUN)
    steps = root / "steps"
    steps.mkdir()
    for i, step in enumerate(workload.steps):
        (steps / f"{i:03d}.sh").write_text(step.script)
        (steps / f"{i:03d}.timeout").write_text(f"{step.timeout}\n")
    if workload.auditd:
        (root / "auditd").write_text("1\n")
    files = root / "files"
    files.mkdir()
    for rel, data in workload.files.items():
        target = files / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(0o755)
    copy_aaprof(root)


def copy_aaprof(root: Path) -> None:
    """aaprof's source into ROOT/src, compiled (the guest's `aaprof` runs it from there)."""
    src = Path(aaprof.__file__).parent
    shutil.copytree(src, root / "src" / "aaprof", ignore=shutil.ignore_patterns("__pycache__"))
    for py in (root / "src").rglob("*.py"):
        # compiled on the host: compiling under emulation costs seconds per boot
        py_compile.compile(
            str(py), doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
        )


def qemu_command(images: Images, input_image: Path, out_image: Path, console: Path) -> list[str]:
    """The qemu command line for one boot."""
    qemu = shutil.which(QEMU)
    if qemu is None:
        raise VMError(install_hint(QEMU))
    drives = [(input_image, "aaprof-in", True), (out_image, "aaprof-out", False)]
    drives.append((images.python, "aaprof-python", True))
    cmd = [
        qemu, "-accel", "tcg", "-m", "1024", "-smp", "1", "-nodefaults", "-no-user-config",
        "-display", "none", "-no-reboot", "-serial", f"file:{console}",
        "-kernel", str(images.kernel.vmlinuz), "-initrd", str(images.initramfs),
        "-append", CMDLINE,
    ]  # fmt: skip
    for i, (path, serial, ro) in enumerate(drives):
        ro_opt = ",readonly=on" if ro else ""
        cmd += ["-drive", f"file={path},if=none,id=d{i},format=raw{ro_opt}"]
        cmd += ["-device", f"virtio-blk-pci,drive=d{i},serial={serial}"]
    return cmd


def run_workload(images: Images, workload: Workload, workdir: Path | None = None) -> VMResult:
    """Boot once, run every step of `workload` in order, power off and collect the results.

    Raises:
        VMError: qemu failed or timed out, or the guest handed nothing back; the message
            names the last step that started and ends with the console's tail.
    """
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="aaprof-vm-")) if workdir is None else workdir
    try:
        return _boot(images, workload, work)
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def _boot(images: Images, workload: Workload, work: Path) -> VMResult:
    tree = work / "in"
    tree.mkdir(parents=True)
    _input_tree(tree, workload)
    input_image, out_image, console = work / "in.ext4", work / "out.tar", work / "console.log"
    make_ext4(tree, input_image, slack_mb=8)
    with open(out_image, "wb") as f:
        f.truncate(OUT_DISK_MB << 20)
    cmd = qemu_command(images, input_image, out_image, console)
    start = time.monotonic()
    with open(work / "qemu.err", "wb") as err_file:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err_file)
        try:
            _wait(proc, workload, console)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    seconds = time.monotonic() - start
    text = _read(console)
    if proc.returncode != 0 or "aaprof-vm: done" not in text:
        err = (work / "qemu.err").read_text(errors="replace").strip()
        raise VMError(f"VM failed (qemu exit {proc.returncode}: {err}){_where(text)}")
    return _collect(out_image, workload, text, seconds)


def _wait(proc: subprocess.Popen[bytes], workload: Workload, console: Path) -> None:
    """Wait for qemu to exit; raise VMError if the guest is not ready within the boot timeout
    or has not powered off `workload.timeout` seconds after it was."""
    start, ready = time.monotonic(), None
    while proc.poll() is None:
        time.sleep(POLL_SECONDS)
        now = time.monotonic()
        if ready is None and "aaprof-vm: ready" in _read(console):
            ready = now
        if ready is None and now - start > workload.boot_timeout:
            raise VMError(
                f"VM did not boot within {workload.boot_timeout:.0f}s{_where(_read(console))}"
            )
        if ready is not None and now - ready > workload.timeout:
            raise VMError(f"VM timed out after {workload.timeout:.0f}s{_where(_read(console))}")


def _read(console: Path) -> str:
    return console.read_text(errors="replace") if console.exists() else ""


def _where(text: str) -> str:
    started = re.findall(r"aaprof-vm: step (\d+) begin", text)
    where = f" in step {started[-1]}" if started else " before the first step"
    if "Kernel panic" in text:
        where += ": the guest kernel panicked"
    return f"{where}\n--- console tail ---\n{text[-3000:]}"


def _collect(out_image: Path, workload: Workload, console: str, seconds: float) -> VMResult:
    members: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(out_image.read_bytes())) as tar:
        for m in tar.getmembers():
            f = tar.extractfile(m) if m.isfile() else None
            if f is not None:
                members[m.name.removeprefix("./")] = f.read()
    steps, unflushed = [], []
    for i, step in enumerate(workload.steps):
        rc_text = members.get(f"steps/{i:03d}.rc")
        if rc_text is None:
            raise VMError(f"step {i:03d} {step.name!r} never ran\n{console[-3000:]}")
        output = members.get(f"steps/{i:03d}.log", b"")
        steps.append(StepResult(i, step.name, int(rc_text), output, step.expect))
        flushed = members.get(f"steps/{i:03d}.flush", b"").decode(errors="replace").strip()
        if flushed != "ok":
            unflushed.append(f"step {i:03d} {step.name!r}: {flushed or 'no end marker'}")
    files = {k.removeprefix("files/"): v for k, v in members.items() if k.startswith("files/")}
    return VMResult(
        console=console,
        dmesg=members.get("dmesg", b""),
        audit_log=members.get("audit.log"),
        steps=tuple(steps),
        files=files,
        seconds=seconds,
        audit_status=members.get("audit-status", b"").decode(errors="replace"),
        unflushed=tuple(unflushed),
    )
