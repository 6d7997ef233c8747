"""The long-running mode of the test VM: boot once, keep running, take shell commands.

The batch mode (run.py) runs a workload's steps and powers off. A node boots the same kernel,
initramfs and Python image with the same /init, but its input disk's run.sh is the caller's
script, which never returns: it starts services (tests/cluster/node.py: containerd and the
kubelet) and serves a root shell on the guest's port `SHELL_PORT`, which qemu's user-mode network
forwards to 127.0.0.1 on the host. `NodeVM.sh(script)` runs a script there and returns its exit
status and output. qemu runs in a session of its own, so that the VM outlives the process that
booted it (`./dev.sh cluster up --node` exits, the VM runs on); `stop` kills it by its pid.

The guest sees the host as 10.0.2.2 (qemu's user-mode network) and is 10.0.2.15 itself.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vm.harness.image import Images, _module_order, install_hint, make_ext4
from vm.harness.run import CMDLINE, QEMU, VMError, copy_aaprof

KVM_PROBE_SECONDS = 30  # a kvm boot reaches /init in seconds; past this, tcg (see _kvm_boots)
SHELL_PORT = 2222  # the guest's port of the shell server (busybox nc)
GUEST_IP = "10.0.2.15"
HOST_IP = "10.0.2.2"  # the host's loopback, as the guest sees it
# the guest's network device and what a container runtime needs of the kernel: overlayfs for
# containerd's snapshots, bridge and veth for the CNI bridge plugin
NODE_MODULES = ("virtio_net", "overlay", "bridge", "veth")

# Serves one shell per connection on SHELL_PORT, in the background: the host sends a script and
# closes its side; the guest saves it, runs it with stdin from /dev/null, and answers its output
# (stdout and stderr together) and a last line `aaprof-rc=STATUS`. A node's script runs this
# first, so that the host can look inside even when a later service fails.
SHELL_SERVER = f"""\
cat > /run/aaprof-shell <<'END'
#!/bin/sh
f=$(mktemp /tmp/aaprof-cmd.XXXXXX)
cat > "$f"
sh "$f" < /dev/null 2>&1
echo "aaprof-rc=$?"
rm -f "$f"
END
chmod 755 /run/aaprof-shell
nc -ll -p {SHELL_PORT} -e /run/aaprof-shell &
"""


def kvm_usable() -> bool:
    """Whether /dev/kvm can be opened for reading and writing by this process."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError:
        return False
    os.close(fd)
    return True


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """What one node boot needs besides the cached images.

    `script` is the guest's run.sh (it must never return), `files` the input disk's files by
    path (executables mode 0755), `links` symbolic links on it (path: target), `forwards`
    host ports of 127.0.0.1 forwarded to the same guest port (besides the shell's).
    """

    script: str
    files: Mapping[str, Path | bytes] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)
    forwards: Sequence[int] = ()
    memory_mb: int = 3072
    cpus: int = 2
    scratch_mb: int = 4096  # raw disk, ext4 made here, serial aaprof-scratch
    kvm: bool | None = None  # None: kvm when /dev/kvm is usable, else tcg
    cmdline_extra: str = ""  # e.g. "apparmor=0"


@dataclass
class NodeVM:
    """A booted node: its qemu pid, its shell's host port, its console file."""

    pid: int
    shell_port: int
    console: Path
    accel: str

    def sh(self, script: str, timeout: float = 300.0) -> tuple[int, str]:
        """Run SCRIPT with the guest's sh as root; (exit status, stdout and stderr together)."""
        with socket.create_connection(("127.0.0.1", self.shell_port), timeout=timeout) as s:
            s.sendall(script.encode() + b"\n")
            s.shutdown(socket.SHUT_WR)
            chunks = []
            while data := s.recv(65536):
                chunks.append(data)
        out = b"".join(chunks).decode(errors="replace")
        head, sep, rc = out.rstrip("\n").rpartition("aaprof-rc=")
        if not sep or not rc.strip().isdigit():
            raise VMError(f"the node's shell gave no exit status for {script[:80]!r}: {out[-500:]}")
        return int(rc), head

    def check(self, script: str, timeout: float = 300.0) -> str:
        """SCRIPT's output; VMError naming its status and output if it fails."""
        rc, out = self.sh(script, timeout)
        if rc != 0:
            raise VMError(f"on the node, `{script[:200]}` exited {rc}:\n{out[-3000:]}")
        return out

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        with contextlib.suppress(ChildProcessError, OSError):
            if os.waitpid(self.pid, os.WNOHANG)[0] == self.pid:
                return False
        return True

    def stop(self) -> None:
        """Kill qemu (its process group)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(self.pid, 0)


def _node_tree(root: Path, images: Images, spec: NodeSpec) -> None:
    (root / "run.sh").write_text(spec.script)
    copy_aaprof(root)  # the guest's `aaprof`, as in the batch mode
    for rel, content in spec.files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, target)
        else:
            target.write_bytes(content)
        target.chmod(0o755)
    for rel, dest in spec.links.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).symlink_to(dest)
    modules = _module_order(images.kernel.modules, NODE_MODULES)
    mod_dir = root / "modules"
    mod_dir.mkdir()
    for ko in modules:
        shutil.copyfile(ko, mod_dir / ko.name)
    (mod_dir / "order").write_text("".join(f"{ko.name}\n" for ko in modules))


def boot_node(images: Images, spec: NodeSpec, work: Path, log: Path) -> NodeVM:
    """Build the node's disks in WORK and start qemu; return at once (see `wait_shell`).

    qemu's stderr goes to LOG, the guest's console to WORK/console.log.
    """
    if shutil.which(QEMU) is None:
        raise VMError(install_hint(QEMU))
    work.mkdir(parents=True, exist_ok=True)
    tree = work / "in"
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir()
    _node_tree(tree, images, spec)
    make_ext4(tree, work / "in.ext4", slack_mb=16)
    scratch = work / "scratch.ext4"
    scratch.unlink(missing_ok=True)
    subprocess.run(
        ["mke2fs", "-q", "-F", "-t", "ext4", str(scratch), f"{spec.scratch_mb}M"],
        check=True, capture_output=True,
    )  # fmt: skip
    out = work / "out.tar"  # /init's collecting at power-off writes here; unused by a node
    with open(out, "wb") as f:
        f.truncate(1 << 20)
    kvm = kvm_usable() if spec.kvm is None else spec.kvm
    if kvm:
        vm = _start(images, spec, work, log, out, scratch, "kvm")
        if _kvm_boots(vm):
            return vm
        vm.stop()
        with open(log, "a") as f:
            f.write(f"node: no /init under kvm within {KVM_PROBE_SECONDS} s: booting with tcg\n")
    return _start(images, spec, work, log, out, scratch, "tcg")


def _kvm_boots(vm: NodeVM) -> bool:
    """Whether the guest under kvm reached /init's ready line in KVM_PROBE_SECONDS: /dev/kvm
    can open and still not run a guest (nested virtualization: qemu aborts on an MSR, or the
    guest never prints)."""
    deadline = time.monotonic() + KVM_PROBE_SECONDS
    while time.monotonic() < deadline and vm.alive():
        if "aaprof-vm: ready" in (vm.console.read_text(errors="replace") if vm.console.exists()
                                  else ""):  # fmt: skip
            return True
        time.sleep(0.5)
    return False


def _start(
    images: Images, spec: NodeSpec, work: Path, log: Path, out: Path, scratch: Path, accel: str
) -> NodeVM:
    shell_port = _free_port()
    fwd = f"hostfwd=tcp:127.0.0.1:{shell_port}-:{SHELL_PORT}"
    for port in spec.forwards:
        fwd += f",hostfwd=tcp:127.0.0.1:{port}-:{port}"
    console = work / "console.log"
    console.unlink(missing_ok=True)
    cmd = [
        QEMU, "-accel", accel, "-m", str(spec.memory_mb), "-smp", str(spec.cpus),
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-serial", f"file:{console}",
        "-kernel", str(images.kernel.vmlinuz), "-initrd", str(images.initramfs),
        "-append", f"{CMDLINE} {spec.cmdline_extra}".strip(),
        "-netdev", f"user,id=n0,net=10.0.2.0/24,{fwd}",
        "-device", "virtio-net-pci,netdev=n0",
    ]  # fmt: skip
    drives = [
        (work / "in.ext4", "aaprof-in", True),
        (out, "aaprof-out", False),
        (images.python, "aaprof-python", True),
        (scratch, "aaprof-scratch", False),
    ]
    for i, (path, serial, ro) in enumerate(drives):
        ro_opt = ",readonly=on" if ro else ""
        cmd += ["-drive", f"file={path},if=none,id=d{i},format=raw{ro_opt}"]
        cmd += ["-device", f"virtio-blk-pci,drive=d{i},serial={serial}"]
    (work / "qemu.cmd").write_text(" ".join(cmd) + "\n")
    with open(log, "ab") as err:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    return NodeVM(proc.pid, shell_port, console, accel)


def wait_shell(vm: NodeVM, timeout: float) -> None:
    """Until the guest's shell answers; VMError with the console's tail if it does not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not vm.alive():
            raise VMError(f"the node's qemu exited\n{_tail(vm.console)}")
        with contextlib.suppress(OSError, VMError):
            if vm.sh("true", timeout=10)[0] == 0:
                return
        time.sleep(1)
    raise VMError(f"the node's shell did not answer within {timeout:.0f} s\n{_tail(vm.console)}")


def _tail(console: Path) -> str:
    text = console.read_text(errors="replace") if console.exists() else ""
    return f"--- console tail ---\n{text[-3000:]}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
