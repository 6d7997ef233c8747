"""Build and cache what a test VM boots: a Debian kernel, an initramfs and a Python image.

Everything comes from Debian packages: the kernel is fetched with `apt-get download` and unpacked
with `dpkg-deb -x`; busybox, apparmor_parser, runc, auditd and Python are the host's installed
Debian binaries, copied with the libraries their ELF headers name. Each artefact is cached under a
directory named by a hash of its inputs, so a changed input builds a new one and a stale one is
never used. Builds run under a file lock and are published by an atomic rename, so parallel test
workers share one build.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aaprof.errors import AaprofError
from vm.harness import cpio, guest

KERNEL_META_PACKAGE = "linux-image-cloud-amd64"
# virtio-blk carries the run's input, its output and the Python image (the cloud kernel has no 9p).
MODULES = ("virtio_blk", "virtio_pci")
# The host programs copied into the initramfs, with the Debian package that provides each.
PROGRAMS = {
    "/usr/sbin/apparmor_parser": "apparmor",
    "/usr/sbin/runc": "runc",
    "/sbin/auditd": "auditd",
    "/sbin/auditctl": "auditd",
}
BUSYBOX = "/bin/busybox"
APPARMOR_DIRS = ("abi", "tunables", "abstractions")
# grpc (and typing_extensions, which it imports): `aaprof node check`'s report of the runtime
# over the CRI, on the node VM (tests/cluster/node.py)
PYTHON_MODULES = (
    "click", "pyparsing", "jinja2", "markupsafe", "yaml", "grpc", "typing_extensions",
)  # fmt: skip
IMAGE_FORMAT = "3"  # bump to invalidate every cached initramfs / Python image


class VMSetupError(AaprofError):
    """Something the VM needs is missing or could not be built."""


@dataclass(frozen=True, slots=True)
class Kernel:
    """An unpacked Debian kernel: its bzImage and its modules directory."""

    version: str
    vmlinuz: Path
    modules: Path


@dataclass(frozen=True, slots=True)
class Images:
    """Everything a boot needs that does not change from run to run."""

    kernel: Kernel
    initramfs: Path
    python: Path


def default_cache_dir() -> Path:
    """`$AAPROF_VM_CACHE`, else `$XDG_CACHE_HOME/aaprof/vm` (`~/.cache/aaprof/vm`)."""
    if env := os.environ.get("AAPROF_VM_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aaprof" / "vm"


def install_hint(what: str) -> str:
    """The message for a missing host component."""
    return (
        f"{what} is missing: run `./dev.sh test` (it installs scripts/apt-test.txt), or "
        "`apt-get install qemu-system-x86 busybox-static apparmor runc auditd e2fsprogs`"
    )


def require(path: str) -> None:
    """Raise VMSetupError with an install hint if the host program `path` is missing."""
    if not Path(path).exists():
        raise VMSetupError(install_hint(path))


@contextmanager
def _locked(cache: Path) -> Iterator[None]:
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise VMSetupError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def _kernel_package() -> tuple[str, str]:
    """The concrete kernel package apt offers for the meta package, and its version."""
    out = _run(["apt-cache", "depends", KERNEL_META_PACKAGE])
    match = re.search(r"Depends: (linux-image-\S+)", out)
    if not match:
        raise VMSetupError(
            f"apt knows no {KERNEL_META_PACKAGE}: run `apt-get update` (Debian bookworm)"
        )
    package = match.group(1)
    policy = _run(["apt-cache", "policy", package])
    version = re.search(r"Candidate: (\S+)", policy)
    if not version or version.group(1) == "(none)":
        raise VMSetupError(f"apt offers no candidate for {package}: run `apt-get update`")
    return package, version.group(1)


def fetch_kernel(cache: Path) -> Kernel:
    """Download and unpack the cloud kernel apt offers, once per package version."""
    package, version = _kernel_package()
    dest = cache / f"kernel-{package}-{version}"
    if not (dest / "ok").exists():
        with _locked(cache):
            if not (dest / "ok").exists():
                _unpack_kernel(package, version, cache, dest)
    kver = package.removeprefix("linux-image-")
    return Kernel(kver, dest / "boot" / f"vmlinuz-{kver}", dest / "lib" / "modules" / kver)


def _unpack_kernel(package: str, version: str, cache: Path, dest: Path) -> None:
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)  # apt's _apt user downloads into it
        _run(["apt-get", "download", f"{package}={version}"], cwd=work)
        (deb,) = work.glob("*.deb")
        _run(["dpkg-deb", "-x", str(deb), str(work / "root")])
        (work / "root" / "ok").write_text(version + "\n")
        shutil.rmtree(dest, ignore_errors=True)
        os.rename(work / "root", dest)


def _ld_deps(binary: str) -> list[str]:
    """The shared libraries (and the loader) `binary` needs, as absolute host paths."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=False).stdout
    deps = []
    for line in out.splitlines():
        match = re.search(r"(/\S+) \(0x", line)
        if match:
            deps.append(match.group(1))
    return deps


def _module_order(modules_dir: Path, wanted: tuple[str, ...]) -> list[Path]:
    """The .ko files for `wanted` and their dependencies, dependencies first."""
    index = {p.name.removesuffix(".ko"): p for p in modules_dir.rglob("*.ko")}
    order: list[Path] = []

    def visit(name: str) -> None:
        path = index.get(name.replace("-", "_")) or index.get(name)
        if path is None:
            raise VMSetupError(f"kernel module {name} not found under {modules_dir}")
        if path in order:
            return
        match = re.search(rb"depends=([\w,-]*)\x00", path.read_bytes())
        for dep in match.group(1).decode().split(",") if match else []:
            if dep:
                visit(dep)
        order.append(path)

    for name in wanted:
        visit(name)
    return order


def _initramfs_entries(kernel: Kernel) -> cpio.Archive:
    archive = cpio.Archive()
    for d in guest.DIRECTORIES:
        archive.add_dir(d)
    require(BUSYBOX)
    archive.add_file("/bin/busybox", Path(BUSYBOX).read_bytes(), 0o755)
    applets = _run([BUSYBOX, "--list"]).split()
    for applet in applets:
        if applet != "busybox":
            archive.add_symlink(f"/bin/{applet}", "busybox")
    for program in PROGRAMS:
        require(program)
        for path in [program, *_ld_deps(program)]:
            archive.add_file(path, Path(path).read_bytes(), 0o755)
    for sub in APPARMOR_DIRS:
        root = Path("/etc/apparmor.d") / sub
        if not root.is_dir():
            raise VMSetupError(install_hint(str(root)))
        archive.add_tree(root, f"/etc/apparmor.d/{sub}")
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for path, text in guest.ETC_FILES.items():
        mode = 0o755 if path in guest.EXECUTABLES else 0o644
        archive.add_file(path, text.replace("python3.11", version).encode(), mode)
    modules = _module_order(kernel.modules, MODULES)
    for ko in modules:
        archive.add_file(f"/lib/modules/{ko.name}", ko.read_bytes(), 0o644)
    archive.add_file("/lib/modules/order", "".join(f"{ko.name}\n" for ko in modules).encode())
    archive.add_file("/init", guest.INIT.encode(), 0o755)
    return archive


def build_initramfs(cache: Path, kernel: Kernel) -> Path:
    """The initramfs (uncompressed newc cpio), rebuilt when any input's content changes."""
    archive = _initramfs_entries(kernel)
    data = archive.to_bytes()
    digest = hashlib.sha256(IMAGE_FORMAT.encode() + data).hexdigest()[:16]
    dest = cache / f"initramfs-{digest}.cpio"
    if not dest.exists():
        _publish(dest, data)
    return dest


def _publish(dest: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, dest)


def _python_sources() -> list[tuple[Path, str]]:
    """(host path, path inside the image) for the Python runtime and aaprof's dependencies."""
    import importlib.util

    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    stdlib = Path(f"/usr/lib/{version}")
    binary = Path(f"/usr/bin/{version}")
    if not binary.exists() or not stdlib.is_dir():
        raise VMSetupError(install_hint(f"Debian's {version}"))
    pairs = [(binary, f"usr/bin/{version}"), (stdlib, f"usr/lib/{version}")]
    for module in PYTHON_MODULES:
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            raise VMSetupError(
                f"Python module {module} is missing: run `./dev.sh venv` (grpc: the extra cri)"
            )
        origin = Path(spec.origin)
        src = origin.parent if origin.name == "__init__.py" else origin
        pairs.append((src, f"usr/lib/{version}/site-packages/{src.name}"))
    libs = {str(binary)}
    for so in stdlib.joinpath("lib-dynload").glob("*.so"):
        libs.update(_ld_deps(str(so)))
    for src, _ in pairs[2:]:  # every module's C extensions (grpc's needs libstdc++)
        for so in src.rglob("*.so") if src.is_dir() else []:
            libs.update(_ld_deps(str(so)))
    for lib in sorted(libs | set(_ld_deps(str(binary)))):
        if lib != str(binary):
            pairs.append((Path(lib), f"lib/{Path(lib).name}"))
    return pairs


def _tree_digest(pairs: list[tuple[Path, str]]) -> str:
    h = hashlib.sha256(IMAGE_FORMAT.encode())
    for src, dst in pairs:
        h.update(dst.encode())
        for p in sorted(src.rglob("*")) if src.is_dir() else [src]:
            st = p.lstat()
            h.update(f"{p}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def build_python_image(cache: Path) -> Path:
    """An ext4 image with the host's Python, its stdlib and aaprof's dependencies, mounted at
    /opt/python in the guest (`/opt/python/usr/bin/python3.11`, libraries in /opt/python/lib)."""
    require("/usr/sbin/mke2fs")
    pairs = _python_sources()
    dest = cache / f"python-{_tree_digest(pairs)}.ext4"
    if dest.exists():
        return dest
    with _locked(cache):
        if dest.exists():
            return dest
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            root = Path(tmp) / "root"
            for src, dst in pairs:
                target = root / dst
                target.parent.mkdir(parents=True, exist_ok=True)
                if src.is_dir():
                    shutil.copytree(src, target, symlinks=True, dirs_exist_ok=True)
                else:
                    shutil.copy2(src, target)
            make_ext4(root, Path(tmp) / "img")
            os.replace(Path(tmp) / "img", dest)
    return dest


def make_ext4(root: Path, image: Path, slack_mb: int = 16) -> None:
    """An ext4 image holding the tree `root` (mke2fs -d), sized to fit with some slack."""
    size = sum(p.lstat().st_size for p in root.rglob("*")) // (1 << 20) + slack_mb
    size += sum(1 for _ in root.rglob("*")) // 64  # one 4 KiB block per small file, roughly
    _run(
        ["mke2fs", "-q", "-F", "-t", "ext4", "-O", "^has_journal", "-E", "root_owner=0:0",
         "-d", str(root), str(image), f"{size}M"]
    )  # fmt: skip


def build_images(cache: Path | None = None) -> Images:
    """Fetch the kernel and build (or reuse) the initramfs and the Python image."""
    cache = cache or default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    kernel = fetch_kernel(cache)
    return Images(kernel, build_initramfs(cache, kernel), build_python_image(cache))
