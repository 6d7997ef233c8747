"""Build and cache what a test VM boots: a Debian kernel, an initramfs and a Python image.

Everything comes from Debian packages: the kernel is fetched with `apt-get download` and unpacked
with `dpkg-deb -x`; busybox, apparmor_parser, runc, auditd and Python are the host's installed
Debian binaries, copied with the libraries their ELF headers name. Each artefact is cached under a
directory named by a hash of its inputs, so a changed input builds a new one and a stale one is
never used. Builds run under a file lock and are published by an atomic rename, so parallel test
workers share one build.

A `Release` other than the host's (TRIXIE: Debian 13's 6.12 cloud kernel and AppArmor 4.1's
apparmor_parser) is fetched with apt from a private state directory in the cache whose only
source is that suite; its parser runs under that release's own glibc (its loader and libc.so.6
in /opt/parser, a wrapper at /usr/sbin/apparmor_parser), with that release's abi, tunables and
abstractions; everything else in the guest stays the host's.
"""

from __future__ import annotations

import fcntl
import hashlib
import lzma
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


@dataclass(frozen=True, slots=True)
class Release:
    """Where the guest's kernel and apparmor_parser come from: `suite` None is the host's apt
    and installed parser (Debian 12: kernel 6.1, AppArmor 3.0.8), else that Debian suite's."""

    name: str
    suite: str | None = None


HOST = Release("host")
TRIXIE = Release("trixie", "trixie")  # Debian 13: the 6.12 cloud kernel, apparmor_parser 4.1
GUEST_PARSER = "/usr/sbin/apparmor_parser"
PARSER_DIR = "/opt/parser"  # a release's parser, its loader and libc.so.6


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
    release: Release = HOST


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


def _apt(cache: Path, release: Release) -> list[str]:
    """apt options for `release`: none for the host's, else a private state directory under
    `cache` whose one source is the release's suite (`apt-get update` run once, under lock)."""
    if release.suite is None:
        return []
    root = cache.resolve() / f"apt-{release.name}"
    opts = [
        f"-oDir::State={root}/state", f"-oDir::Cache={root}/cache",
        f"-oDir::Etc::SourceList={root}/sources.list", f"-oDir::Etc::SourceParts={root}/parts",
        f"-oDir::Etc::Preferences={root}/preferences", f"-oDir::Etc::PreferencesParts={root}/parts",
        "-oDebug::NoLocking=1",
    ]  # fmt: skip
    if not (root / "ok").exists():
        with _locked(cache):
            if not (root / "ok").exists():
                for sub in ("state/lists/partial", "cache/archives/partial", "parts"):
                    (root / sub).mkdir(parents=True, exist_ok=True)
                mirror = os.environ.get("AAPROF_DEBIAN_MIRROR", "https://deb.debian.org/debian")
                (root / "sources.list").write_text(f"deb {mirror} {release.suite} main\n")
                _run(["apt-get", *opts, "update"])
                (root / "ok").write_text(release.suite + "\n")
    return opts


def _candidate(apt: list[str], package: str) -> str:
    policy = _run(["apt-cache", *apt, "policy", package])
    version = re.search(r"Candidate: (\S+)", policy)
    if not version or version.group(1) == "(none)":
        raise VMSetupError(f"apt offers no candidate for {package}: run `apt-get update`")
    return version.group(1)


def _kernel_package(apt: list[str]) -> tuple[str, str]:
    """The concrete kernel package apt offers for the meta package, and its version."""
    out = _run(["apt-cache", *apt, "depends", KERNEL_META_PACKAGE])
    match = re.search(r"Depends: (linux-image-\S+)", out)
    if not match:
        raise VMSetupError(
            f"apt knows no {KERNEL_META_PACKAGE}: run `apt-get update` (Debian bookworm)"
        )
    package = match.group(1)
    return package, _candidate(apt, package)


def fetch_kernel(cache: Path, release: Release = HOST) -> Kernel:
    """Download and unpack the cloud kernel apt offers, once per package version."""
    apt = _apt(cache, release)
    package, version = _kernel_package(apt)
    dest = cache / f"kernel-{package}-{version}"
    if not (dest / "ok").exists():
        with _locked(cache):
            if not (dest / "ok").exists():
                _unpack(apt, [f"{package}={version}"], cache, dest, version)
    kver = package.removeprefix("linux-image-")
    modules = dest / "lib" / "modules" / kver
    if not modules.is_dir():  # a merged-/usr package (Debian 13)
        modules = dest / "usr" / "lib" / "modules" / kver
    return Kernel(kver, dest / "boot" / f"vmlinuz-{kver}", modules)


def fetch_parser(cache: Path, release: Release) -> Path | None:
    """The unpacked `apparmor` and `libc6` packages of `release` (None for the host's)."""
    if release.suite is None:
        return None
    apt = _apt(cache, release)
    wanted = [f"{p}={_candidate(apt, p)}" for p in ("apparmor", "libc6")]
    digest = hashlib.sha256(" ".join(wanted).encode()).hexdigest()[:16]
    dest = cache / f"parser-{release.name}-{digest}"
    if not (dest / "ok").exists():
        with _locked(cache):
            if not (dest / "ok").exists():
                _unpack(apt, wanted, cache, dest, " ".join(wanted))
    return dest


def _unpack(apt: list[str], packages: list[str], cache: Path, dest: Path, stamp: str) -> None:
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)  # apt's _apt user downloads into it
        _run(["apt-get", *apt, "download", *packages], cwd=work)
        for deb in sorted(work.glob("*.deb")):
            _run(["dpkg-deb", "-x", str(deb), str(work / "root")])
        (work / "root" / "ok").write_text(stamp + "\n")
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


def _module_name(path: Path) -> str:
    return path.name.removesuffix(".xz").removesuffix(".ko")


def module_bytes(path: Path) -> bytes:
    """A module's ELF image (a `.ko.xz` decompressed: busybox's insmod loads only plain ones)."""
    data = path.read_bytes()
    return lzma.decompress(data) if path.name.endswith(".xz") else data


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _module_order(modules_dir: Path, wanted: tuple[str, ...]) -> list[Path]:
    """The .ko (or .ko.xz) files for `wanted` and their dependencies, dependencies first."""
    found = [*modules_dir.rglob("*.ko"), *modules_dir.rglob("*.ko.xz")]
    index = {_module_name(p): p for p in found}
    listed = modules_dir / "modules.builtin"
    builtin = {Path(line).name.removesuffix(".ko") for line in _lines(listed)}
    order: list[Path] = []

    def visit(name: str) -> None:
        path = index.get(name.replace("-", "_")) or index.get(name)
        if path is None and name.replace("-", "_") in builtin:
            return  # built into this kernel (virtio_pci in Debian 13's)
        if path is None:
            raise VMSetupError(f"kernel module {name} not found under {modules_dir}")
        if path in order:
            return
        match = re.search(rb"depends=([\w,-]*)\x00", module_bytes(path))
        for dep in match.group(1).decode().split(",") if match else []:
            if dep:
                visit(dep)
        order.append(path)

    for name in wanted:
        visit(name)
    return order


def _parser_entries(archive: cpio.Archive, parser: Path) -> None:
    """A release's apparmor_parser under its own loader and libc, its /etc/apparmor.d dirs."""
    libdir = parser / "usr" / "lib" / "x86_64-linux-gnu"
    for name in ("ld-linux-x86-64.so.2", "libc.so.6"):
        archive.add_file(f"{PARSER_DIR}/{name}", (libdir / name).read_bytes(), 0o755)
    binary = parser / "usr" / "sbin" / "apparmor_parser"
    archive.add_file(f"{PARSER_DIR}/apparmor_parser", binary.read_bytes(), 0o755)
    wrapper = (
        f"#!/bin/sh\nexec {PARSER_DIR}/ld-linux-x86-64.so.2 --library-path {PARSER_DIR} "
        f'{PARSER_DIR}/apparmor_parser "$@"\n'
    )
    archive.add_file(GUEST_PARSER, wrapper.encode(), 0o755)
    conf = parser / "etc" / "apparmor" / "parser.conf"
    archive.add_file("/etc/apparmor/parser.conf", conf.read_bytes(), 0o644)
    # the feature set parser.conf pins (policy-features=): what a profile without an abi gets
    archive.add_tree(parser / "usr/share/apparmor-features", "/usr/share/apparmor-features")
    for sub in APPARMOR_DIRS:
        archive.add_tree(parser / "etc" / "apparmor.d" / sub, f"/etc/apparmor.d/{sub}")


def _initramfs_entries(kernel: Kernel, parser: Path | None = None) -> cpio.Archive:
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
        if parser is not None and program == GUEST_PARSER:
            continue
        require(program)
        for path in [program, *_ld_deps(program)]:
            archive.add_file(path, Path(path).read_bytes(), 0o755)
    if parser is not None:
        _parser_entries(archive, parser)
    for sub in APPARMOR_DIRS if parser is None else ():
        root = Path("/etc/apparmor.d") / sub
        if not root.is_dir():
            raise VMSetupError(install_hint(str(root)))
        archive.add_tree(root, f"/etc/apparmor.d/{sub}")
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for path, text in guest.ETC_FILES.items():
        mode = 0o755 if path in guest.EXECUTABLES else 0o644
        archive.add_file(path, text.replace("python3.11", version).encode(), mode)
    modules = _module_order(kernel.modules, MODULES)
    names = [f"{_module_name(ko)}.ko" for ko in modules]
    for ko, name in zip(modules, names, strict=True):
        archive.add_file(f"/lib/modules/{name}", module_bytes(ko), 0o644)
    archive.add_file("/lib/modules/order", "".join(f"{n}\n" for n in names).encode())
    archive.add_file("/init", guest.INIT.encode(), 0o755)
    return archive


def build_initramfs(cache: Path, kernel: Kernel, parser: Path | None = None) -> Path:
    """The initramfs (uncompressed newc cpio), rebuilt when any input's content changes."""
    archive = _initramfs_entries(kernel, parser)
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


def build_images(cache: Path | None = None, release: Release = HOST) -> Images:
    """Fetch `release`'s kernel (and parser) and build (or reuse) the initramfs and the Python
    image."""
    cache = cache or default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    kernel = fetch_kernel(cache, release)
    initramfs = build_initramfs(cache, kernel, fetch_parser(cache, release))
    return Images(kernel, initramfs, build_python_image(cache), release)
