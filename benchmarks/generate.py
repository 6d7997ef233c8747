"""Deterministic generator of the benchmark's audit.log (AppArmor-dense) and kern.log (90% noise).

Usage:
    python benchmarks/generate.py [OUTDIR] [--records N] [--seed S] [--with-class]
                                  [--only audit|kern]

`audit.log` holds N `type=AVC` AppArmor records and nothing else (no SYSCALL/PROCTITLE records: it
is the dense case). `kern.log` holds N rsyslog lines of which exactly one in ten is an AppArmor
record (`kernel: [uptime] audit: type=1400 ...`); the other nine are kernel and audit noise.

By default the records have the layout of Debian 12's 6.1 kernel: no `class=`, file and network
permissions in `requested_mask=`/`denied_mask=`, no `peer_addr=`. That is the layout Debian 12's
libapparmor 3.0.8 (the reference) understands; it rejects every record with `class=`,
`requested=`/`denied=` or `peer_addr=`. `--with-class` writes the layout of newer kernels instead.
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

import realism as rl
from noise import NOISE_KINDS, NoiseContext
from realism import Realism

DEFAULT_RECORDS = 1_000_000
DEFAULT_OUTDIR = Path(__file__).resolve().parent / "data"
START_EPOCH = 1_732_400_000  # 2024-11-23, so that rsyslog's "Nov 23" dates and epochs agree
BOOT_EPOCH = START_EPOCH - 86_400  # the node booted a day before the log starts
CHUNK = 10_000  # records drawn and written per batch: bounds memory at any --records
HOST = "node-7"
DEFAULT_DISTINCT = 12_000  # accesses drawn; about 10k of them distinct
FILES = ("audit", "kern")

# Kind of access → (share of distinct accesses, share of records). File records dominate.
KIND_MIX: dict[str, tuple[float, float]] = {
    "file": (0.70, 0.75),
    "exec": (0.05, 0.04),
    "capability": (0.02, 0.06),
    "inet": (0.06, 0.03),
    "unix": (0.04, 0.03),
    "signal": (0.03, 0.02),
    "ptrace": (0.02, 0.02),
    "mount": (0.03, 0.02),
    "domain": (0.02, 0.01),
    "status": (0.03, 0.02),
}

APPS = (
    "nginx", "redis-server", "postgres", "envoy", "coredns", "etcd", "prometheus", "grafana",
    "fluent-bit", "node_exporter", "kube-proxy", "calico-node", "java", "python3", "node",
    "haproxy", "mysqld", "mongod", "rabbitmq", "memcached", "traefik", "vault", "consul",
    "sidekiq", "puma", "gunicorn", "celery", "minio", "loki", "tempo",
)  # fmt: skip
FILE_OPS = (
    ("open", "r", 40), ("open", "w", 8), ("open", "rw", 6), ("open", "wc", 4),
    ("file_mmap", "m", 8), ("file_mmap", "rm", 4), ("getattr", "r", 6), ("mkdir", "c", 3),
    ("unlink", "d", 3), ("rename_src", "wrd", 2), ("rename_dest", "wc", 2), ("truncate", "w", 2),
    ("chmod", "w", 2), ("file_perm", "r", 3), ("file_perm", "w", 2), ("file_lock", "k", 2),
    ("link", "l", 1),
)  # fmt: skip
DIRS = (
    "/etc/{app}", "/etc/ssl/certs", "/etc/ssl/private", "/var/lib/{app}", "/var/lib/{app}/data",
    "/var/log/{app}", "/run/{app}", "/tmp", "/usr/lib/x86_64-linux-gnu", "/usr/share/{app}",
    "/proc/sys/net/core", "/proc/sys/kernel", "/sys/fs/cgroup", "/home/{app}/.cache",
    "/usr/local/lib/python3.11/site-packages/{app}", "/opt/{app}/conf", "/dev/shm",
)  # fmt: skip
STEMS = (
    "config", "cache", "state", "index", "server", "client", "auth", "tls", "session", "worker",
    "settings", "module", "plugin", "queue", "journal", "snapshot", "token", "stats", "libcrypto",
    "libssl", "libz", "locale", "passwd", "group", "hosts", "resolv", "nsswitch", "somaxconn",
    "pid_max", "memory.max", "cpu.max", "io.stat",
)  # fmt: skip
EXTS = ("", ".conf", ".json", ".yaml", ".db", ".log", ".pem", ".so.3", ".py", ".lock", ".tmp")
CAPS = (
    (0, "chown"), (1, "dac_override"), (2, "dac_read_search"), (3, "fowner"), (5, "kill"),
    (6, "setgid"), (7, "setuid"), (10, "net_bind_service"), (12, "net_admin"), (13, "net_raw"),
    (19, "sys_ptrace"), (21, "sys_admin"), (23, "sys_nice"), (24, "sys_resource"),
)  # fmt: skip
SIGNALS = ("term", "kill", "hup", "int", "usr1", "usr2", "quit", "cont", "stop", "rtmin+2")
INET = (
    ("create", "inet", "raw", 1), ("create", "inet6", "raw", 58), ("connect", "inet", "stream", 6),
    ("bind", "inet", "dgram", 17), ("listen", "inet6", "stream", 6),
    ("sendmsg", "inet", "dgram", 17), ("create", "netlink", "raw", 0),
    ("setsockopt", "inet", "stream", 6),
)  # fmt: skip
NET_REQUEST = {"connect": "send receive connect", "sendmsg": "send", "setsockopt": "setopt"}
PEERS = ("unconfined", "k8s-nginx", "/usr/bin/containerd-shim-runc-v2", "cri-containerd.apparmor.d")
MOUNT = (
    ("mount", "tmpfs", "tmpfs", "rw, nosuid, nodev"),
    ("mount", "proc", "proc", "rw, nosuid, nodev, noexec"),
    ("mount", "overlay", "overlay", "rw, relatime"),
    ("mount", "ext4", "/dev/sdb1", "ro, bind"),
    ("umount", None, None, None),
)


@dataclass(frozen=True, slots=True)
class Access:
    """One distinct access: the record text before ` pid=`, and after ` comm=...`."""

    kind: str
    head: str
    tail: str
    profile: int
    exe: str = "/usr/bin/app"


@dataclass(frozen=True, slots=True)
class Profile:
    """A confined program: its profile name (rendered), its mode and its processes."""

    name: str
    mode: str
    procs: tuple[tuple[int, str], ...]
    app: str = ""


def quote(value: str) -> str:
    """A string value as the kernel writes it: quoted, or unquoted uppercase hex (audit.c)."""
    if any(c == '"' or c < "!" or c > "~" for c in value):
        return value.encode("utf-8").hex().upper()
    return f'"{value}"'


def make_profiles(rng: random.Random, shape: Realism = rl.CLEAN) -> list[Profile]:
    """`shape.profiles` profiles: Kubernetes-style names, binaries, some with spaces (hex)."""
    profiles = []
    for i in range(shape.profiles):
        app = APPS[i % len(APPS)] + (f"-{i // len(APPS)}" if i >= len(APPS) else "")
        if i % 3 == 0:
            name = f"k8s-{app}"
        elif i % 3 == 1:
            name = f"/usr/sbin/{app}" if i % 2 else f"/usr/bin/{app}"
        else:
            name = f"cri-containerd.apparmor.d//{app}" if i % 5 == 2 else f"{app}"
        if i in (8, 23):
            name = f"{app} worker"  # a profile name with a space: hex-encoded by the kernel
        if i >= len(APPS) and rng.random() < shape.stacked:
            name = f"{name}//&cri-containerd.apparmor.d"  # a stacked label
        mode = "ALLOWED" if i % 4 == 3 else "DENIED"  # complain mode logs ALLOWED
        comm = app[:15]
        procs = tuple((rng.randrange(300, 4_000_000), comm) for _ in range(shape.pids))
        profiles.append(Profile(quote(name), mode, procs, app))
    return profiles


HEX_SHARE = [0.03]  # file names hex-encoded (set from Realism.hex_names before drawing)


def file_name(rng: random.Random, app: str) -> str:
    """A path an app might touch; some contain a space or UTF-8 (hex-encoded in the log)."""
    directory = rng.choice(DIRS).format(app=app)
    stem = rng.choice(STEMS)
    roll = rng.random()
    if roll < HEX_SHARE[0] * 2 / 3:
        stem = f"{stem} copy"
    elif roll < HEX_SHARE[0]:
        stem = f"{stem}-é"
    return f"{directory}/{stem}{rng.randrange(100) if rng.random() < 0.5 else ''}{rng.choice(EXTS)}"


@dataclass(frozen=True, slots=True)
class Shape:
    """The parts of a record that do not depend on the process: operation, object, class fields.

    `subject` replaces the profile's own name (the loader is "unconfined" in STATUS records);
    `mode` replaces the profile's mode.
    """

    op: str
    cls: str
    tail: str
    name: str | None = None
    info: str = ""
    subject: str | None = None
    mode: str | None = None

    def head(self, profile: Profile, with_class: bool) -> str:
        """`apparmor= operation= [class=] [info= error=] profile= [name=]`, the kernel's order."""
        cls = f' class="{self.cls}"' if with_class and self.cls else ""
        name = "" if self.name is None else f" name={quote(self.name)}"
        subject = profile.name if self.subject is None else quote(self.subject)
        mode = self.mode or profile.mode
        return f'apparmor="{mode}" operation="{self.op}"{cls}{self.info} profile={subject}{name}'


def masks(request: str, with_class: bool) -> str:
    """Newer kernels write non-file permissions as requested=/denied=, older as *_mask=."""
    if with_class:
        return f'requested="{request}" denied="{request}"'
    return f'requested_mask="{request}" denied_mask="{request}"'


def file_shape(rng: random.Random, app: str) -> Shape:
    op, mask = rng.choices([(o, m) for o, m, _ in FILE_OPS], [w for *_, w in FILE_OPS])[0]
    name = file_name(rng, app)
    fsuid = rng.choice((0, 0, 101, 999, 1000, 65534))
    target = f" target={quote(name + '.bak')}" if op == "link" else ""
    tail = f' requested_mask="{mask}" denied_mask="{mask}" fsuid={fsuid} ouid={fsuid}{target}'
    return Shape(op, "file", tail, name=name)


def exec_shape(rng: random.Random, app: str) -> Shape:
    binary = rng.choice(("/usr/bin/curl", "/bin/sh", "/usr/bin/env", "/usr/bin/git", "/bin/ps"))
    binary = f"{binary}{rng.randrange(40) or ''}"
    roll = rng.random()
    info = ' info="no new privs" error=-1' if roll < 0.2 else ""
    target = f"{app}//null-{binary}" if roll < 0.6 else f"k8s-{app}-helper"
    tail = f' requested_mask="x" denied_mask="x" fsuid=0 ouid=0 target={quote(target)}'
    return Shape("exec", "file", tail, name=binary, info=info)


def capability_shape(rng: random.Random) -> Shape:
    number, name = rng.choice(CAPS)
    return Shape("capable", "cap", f'  capability={number}  capname="{name}"')


def inet_shape(rng: random.Random, with_class: bool) -> Shape:
    op, family, sock_type, proto = rng.choice(INET)
    request = NET_REQUEST.get(op, op)
    ports = ""
    if op == "connect":
        local = f"10.244.{rng.randrange(8)}.{rng.randrange(2, 250)}"
        remote = f"10.96.0.{rng.randrange(1, 20)}"
        port = rng.choice((443, 53, 6379, 5432))
        ports = f" laddr={local} lport={rng.randrange(32768, 61000)} faddr={remote} fport={port}"
    tail = f'{ports} family="{family}" sock_type="{sock_type}" protocol={proto} '
    return Shape(op, "net", tail + masks(request, with_class))


def unix_shape(rng: random.Random, with_class: bool) -> Shape:
    op = rng.choice(("connect", "sendmsg", "bind", "create"))
    sock = rng.choice(("/run/containerd/containerd.sock", "/run/docker.sock", "@/tmp/.X11-unix/X0"))
    sock = f"{sock}{rng.randrange(20) or ''}"
    # Debian 12's libapparmor 3.0.8 rejects records with peer_addr=, which only newer kernels add.
    addr = f" addr=none peer_addr={quote(sock)}" if with_class else f" addr={quote(sock)}"
    tail = (
        f' family="unix" sock_type="stream" protocol=0 {masks(NET_REQUEST.get(op, op), with_class)}'
    )
    return Shape(op, "net", f'{tail}{addr} peer="unconfined"')


def signal_shape(rng: random.Random) -> Shape:
    request = rng.choice(("send", "send", "receive"))
    peer = rng.choice(PEERS)
    tail = f' requested_mask="{request}" denied_mask="{request}" signal={rng.choice(SIGNALS)}'
    return Shape("signal", "signal", f"{tail} peer={quote(peer)}")


def ptrace_shape(rng: random.Random) -> Shape:
    request = rng.choice(("read", "read", "trace", "readby"))
    peer = rng.choice(PEERS)
    tail = f' requested_mask="{request}" denied_mask="{request}" peer={quote(peer)}'
    return Shape("ptrace", "ptrace", tail)


def mount_shape(rng: random.Random) -> Shape:
    op, fstype, src, flags = rng.choice(MOUNT)
    point = rng.choice(
        ("/mnt/", "/run/secrets/", "/var/lib/kubelet/pods/", "/proc/", "/data disk/")
    )
    if fstype is None or src is None or flags is None:
        return Shape(op, "mount", "", name=point)
    tail = f' fstype={quote(fstype)} srcname={quote(src)} flags="{flags}"'  # flags: never hex
    return Shape(op, "mount", tail, name=point, info=' info="failed flags match" error=-13')


def domain_shape(rng: random.Random, app: str, with_class: bool) -> Shape:
    if rng.random() < 0.5:
        target = f"k8s-{app}-v{rng.randrange(9)}"
        info = ' info="label not found" error=-2'
        tail = f" target={quote(target)}"
        return Shape("change_onexec", "file", tail, target, info, "unconfined", "DENIED")
    return Shape("userns_create", "namespace", " " + masks("userns_create", with_class))


def status_shape(rng: random.Random, app: str) -> Shape:
    op = rng.choice(("profile_load", "profile_replace", "profile_replace", "profile_remove"))
    info = ' info="same as current profile, skipping"' if rng.random() < 0.3 else ""
    name = f"k8s-{app}-{rng.randrange(30)}"
    return Shape(op, "", "", name, info, "unconfined", "STATUS")


def make_shape(rng: random.Random, kind: str, app: str, with_class: bool) -> Shape:
    builders: dict[str, Callable[[], Shape]] = {
        "file": lambda: file_shape(rng, app),
        "exec": lambda: exec_shape(rng, app),
        "capability": lambda: capability_shape(rng),
        "inet": lambda: inet_shape(rng, with_class),
        "unix": lambda: unix_shape(rng, with_class),
        "signal": lambda: signal_shape(rng),
        "ptrace": lambda: ptrace_shape(rng),
        "mount": lambda: mount_shape(rng),
        "domain": lambda: domain_shape(rng, app, with_class),
        "status": lambda: status_shape(rng, app),
    }
    return builders[kind]()


def make_accesses(
    rng: random.Random, profiles: list[Profile], distinct: int, with_class: bool
) -> list[Access]:
    """`distinct` distinct accesses (fewer if the random draws repeat), kinds per KIND_MIX."""
    seen: dict[tuple[str, str, int], Access] = {}
    for kind, (share, _) in KIND_MIX.items():
        for _ in range(max(1, round(distinct * share))):
            index = rng.randrange(len(profiles))
            profile = profiles[index]
            shape = make_shape(rng, kind, profile.app, with_class)
            head = shape.head(profile, with_class)
            exe = f"/usr/bin/{profile.app}"
            seen.setdefault((head, shape.tail, index), Access(kind, head, shape.tail, index, exe))
    return list(seen.values())


def record_weights(accesses: list[Access]) -> list[float]:
    """Zipf-like weights (a few hot accesses, a long tail), scaled to KIND_MIX's record shares."""
    by_kind: dict[str, int] = {}
    for access in accesses:
        by_kind[access.kind] = by_kind.get(access.kind, 0) + 1
    harmonic = {kind: sum(1 / r for r in range(1, n + 1)) for kind, n in by_kind.items()}
    rank: dict[str, int] = {}
    weights = []
    for access in accesses:
        rank[access.kind] = rank.get(access.kind, 0) + 1
        weights.append(KIND_MIX[access.kind][1] / (rank[access.kind] * harmonic[access.kind]))
    return weights


@dataclass
class Clock:
    """Audit time and serial, advancing a few milliseconds per record."""

    millis: int = 0
    serial: int = 1000
    micros: int = 0  # the last dmesg uptime stamp, in µs since the log started

    def tick(self, rng: random.Random) -> tuple[int, int, int]:
        self.millis += rng.randrange(4)
        self.serial += 1
        return START_EPOCH + self.millis // 1000, self.millis % 1000, self.serial

    def uptime(self, rng: random.Random) -> str:
        """dmesg's `[%5lu.%06lu]`, never going backwards."""
        self.micros = max(self.micros + 1, self.millis * 1000 + rng.randrange(1000))
        seconds, micros = divmod(self.micros, 1_000_000)
        return f"[{seconds + START_EPOCH - BOOT_EPOCH:5d}.{micros:06d}]"


@dataclass(frozen=True, slots=True)
class Body:
    """One record's text after its stamp, with the process and profile that wrote it."""

    text: str
    profile: Profile
    pid: int
    comm: str
    exe: str


def record_bodies(
    rng: random.Random,
    accesses: list[Access],
    profiles: list[Profile],
    count: int,
    shape: Realism = rl.CLEAN,
) -> Iterator[list[Body]]:
    """Batches of `apparmor=... pid=... comm=...` texts, `count` in all, drawn by weight."""
    cum = list(accumulate(record_weights(accesses)))
    cls = ' class="file"' if shape.with_class else ""
    done = 0
    while done < count:
        batch = min(CHUNK, count - done)
        bodies = []
        for access in rng.choices(accesses, cum_weights=cum, k=batch):
            profile = profiles[access.profile]
            pid, comm = rng.choice(profile.procs)
            head, tail, exe = access.head, access.tail, access.exe
            if shape.fresh:  # the access drawn afresh: another profile, object and command
                profile = rng.choice(profiles)
                drawn = make_shape(rng, access.kind, profile.app, shape.with_class)
                pid, comm = rng.randrange(300, 4_000_000), rl.fresh_comm(rng, profile.app)
                head, tail = drawn.head(profile, shape.with_class), drawn.tail
                exe = f"/usr/bin/{profile.app}"
            if shape.unique_names and rng.random() < shape.unique_names:
                text = (
                    f'apparmor="{profile.mode}" operation="open"{cls} profile={profile.name} '
                    f'name="{rl.unique_name(rng)}" pid={pid} comm={quote(comm)} '
                    'requested_mask="r" denied_mask="r" fsuid=1000 ouid=1000'
                )
            else:
                text = f"{head} pid={pid} comm={quote(comm)}{tail}"
            bodies.append(Body(text, profile, pid, comm, exe))
        yield bodies
        done += batch


def write_audit_log(
    path: Path, rng: random.Random, bodies: Iterator[list[Body]], shape: Realism = rl.CLEAN
) -> None:
    clock = Clock()
    node = f"node={HOST} " if shape.node_prefix else ""
    with path.open("w", encoding="utf-8") as out:
        for batch in bodies:
            lines = []
            for body in batch:
                sec, ms, serial = clock.tick(rng)
                stamp = f"audit({sec}.{ms:03d}:{serial})"
                tail = rl.enriched_tail(body.text) if shape.enriched else ""
                lines.append(f"{node}type=AVC msg={stamp}: {body.text}{tail}\n")
                if shape.companions and rng.random() < shape.companions:
                    for extra in rl.companions(
                        stamp, body.pid, body.comm, body.exe, shape.enriched
                    ):
                        lines.append(f"{node}{extra}\n")
                if shape.dbus and rng.random() < shape.dbus * (1 + 2 * shape.companions):
                    sec, ms, serial = clock.tick(rng)
                    stamp = f"audit({sec}.{ms:03d}:{serial})"
                    message = rl.dbus_message(rng, body.profile.mode, body.profile.name, body.pid)
                    lines.append(f"{node}{rl.user_avc_audit(stamp, message, shape.enriched)}\n")
            out.write("".join(lines))


def syslog_prefix(sec: int, who: str = "kernel") -> str:
    """rsyslog's traditional `Mon DD HH:MM:SS host tag:` for a UTC epoch."""
    day, rest = divmod(sec - START_EPOCH, 86_400)
    hh, rest = divmod(rest, 3600)
    mm, ss = divmod(rest, 60)
    return f"Nov {23 + day:2d} {hh:02d}:{mm:02d}:{ss:02d} {HOST} {who}:"


def write_kern_log(
    path: Path,
    rng: random.Random,
    bodies: Iterator[list[Body]],
    shape: Realism = rl.CLEAN,
    journal: bool = False,
) -> None:
    """One AppArmor record at a random place in every block of ten lines; noise elsewhere.

    With `shape.dbus`, a noise line of some blocks is a dbus-daemon USER_AVC record instead
    (continued on an extra line where `shape.dbus_split` says). `journal`: the records as
    `journalctl` prints them (audit or kernel transport) instead of rsyslog's kern.log.
    """
    clock = Clock()
    kinds = [k for k, _ in NOISE_KINDS]
    cum = list(accumulate(w for _, w in NOISE_KINDS))
    with path.open("w", encoding="utf-8") as out:
        for batch in bodies:
            lines: list[str] = []
            noise = iter(rng.choices(kinds, cum_weights=cum, k=9 * len(batch)))
            for body in batch:
                slot = rng.randrange(10)
                dbus = rng.randrange(10) if shape.dbus and rng.random() < shape.dbus * 10 else -1
                for i in range(10):
                    sec, ms, serial = clock.tick(rng)
                    uptime = clock.uptime(rng)
                    stamp = f"audit({sec}.{ms:03d}:{serial})"
                    if i == slot:
                        if journal:
                            prefix = syslog_prefix(sec, "")[:-2]
                            lines.append(rl.journal_lines(prefix, stamp, body.text, body.pid, rng))
                            lines.append("\n")
                            continue
                        text = f"{uptime} audit: type=1400 {stamp}: {body.text}"
                        lines.append(f"{syslog_prefix(sec)} {text}\n")
                    elif i == dbus:
                        mode, label = body.profile.mode, body.profile.name
                        message = rl.dbus_message(rng, mode, label, body.pid)
                        split = rng.random() < shape.dbus_split
                        first, second = rl.user_avc_kernel(stamp, message, split)
                        lines.append(f"{syslog_prefix(sec)} {uptime} {first}\n")
                        if second is not None:
                            lines.append(f"{second}\n")
                    else:
                        who, text = next(noise)(NoiseContext(rng, stamp, uptime, serial))
                        lines.append(f"{syslog_prefix(sec, who)} {text}\n")
            out.write("".join(lines))


def rotate(path: Path, parts: int) -> None:
    """Split a log into a rotated set in `path.parent / "rotated"`: name.N.gz ... name.1, name."""
    target = path.parent / "rotated"
    target.mkdir(exist_ok=True)
    lines = path.read_bytes().splitlines(keepends=True)
    size = -(-len(lines) // (parts + 1))
    # cut only before a line that continues no other (a split USER_AVC stays whole)
    cuts = [0]
    for n in range(1, parts + 1):
        cut = max(n * size, cuts[-1])
        while cut < len(lines) and lines[cut][:1] in {b" ", b"\t"}:
            cut += 1
        cuts.append(cut)
    cuts.append(len(lines))
    for n in range(parts + 1):
        data = b"".join(lines[cuts[n] : cuts[n + 1]])
        age = parts - n  # the first part is the oldest
        if age == 0:
            (target / path.name).write_bytes(data)
        elif age == 1:
            (target / f"{path.name}.1").write_bytes(data)
        else:
            with gzip.open(target / f"{path.name}.{age}.gz", "wb", compresslevel=1) as f:
                f.write(data)


def generate(
    outdir: Path,
    records: int,
    seed: int,
    *,
    with_class: bool = False,
    distinct: int = DEFAULT_DISTINCT,
    files: tuple[str, ...] = FILES,
    shape: Realism = rl.CLEAN,
) -> None:
    """Write `outdir/audit.log` (`records` records) and `outdir/kern.log` (`records` lines).

    Each file has its own random stream, so asking for one gives the same bytes as asking for both.
    With `shape.journal_text`, `journal.txt` too; with `shape.rotate`, `rotated/kern.log*`.
    """
    shape = shape.but(with_class=with_class or shape.with_class)
    HEX_SHARE[0] = shape.hex_names
    outdir.mkdir(parents=True, exist_ok=True)
    writers: dict[str, tuple[Callable[..., None], int]] = {
        "audit": (write_audit_log, records),
        "kern": (write_kern_log, records // 10),
    }
    for offset, file in enumerate(FILES):
        if file not in files:
            continue
        rng = random.Random(seed)
        profiles = make_profiles(rng, shape)
        accesses = make_accesses(rng, profiles, distinct, shape.with_class)
        rng.seed(seed + 1 + offset)
        write, count = writers[file]
        write(
            outdir / f"{file}.log", rng, record_bodies(rng, accesses, profiles, count, shape), shape
        )
        if file == "kern" and shape.journal_text:
            rng.seed(seed + 3)
            bodies = record_bodies(rng, accesses, profiles, count, shape)
            write_kern_log(outdir / "journal.txt", rng, bodies, shape, journal=True)
        if file == "kern" and shape.rotate:
            rotate(outdir / "kern.log", shape.rotate)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", nargs="?", type=Path, default=DEFAULT_OUTDIR)
    parser.add_argument(
        "--records",
        type=int,
        default=DEFAULT_RECORDS,
        help="records in audit.log and lines in kern.log (a multiple of 10)",
    )
    parser.add_argument("--seed", type=int, default=20241123)
    parser.add_argument(
        "--distinct", type=int, default=DEFAULT_DISTINCT, help="accesses drawn (about 10k distinct)"
    )
    parser.add_argument(
        "--mix",
        choices=sorted(rl.MIXES),
        default="realistic",
        help="realistic: what a node writes (the default); distinct: the same, but every record "
        "drawn afresh (few repeat); clean: the benchmark's old mix",
    )
    parser.add_argument(
        "--with-class",
        action="store_true",
        help="newer kernels' layout (class=, requested=/denied=, peer_addr=)",
    )
    for knob in rl.Realism.option_names():
        if knob != "with_class":
            parser.add_argument(f"--{knob.replace('_', '-')}", dest=knob, help=f"override {knob}")
    parser.add_argument("--only", choices=FILES, help="write only audit.log or only kern.log")
    args = parser.parse_args(argv)
    if args.records <= 0 or args.records % 10:
        parser.error("--records must be a positive multiple of 10")
    shape = rl.MIXES[args.mix]
    for knob in rl.Realism.option_names():
        value = None if knob == "with_class" else getattr(args, knob)
        if value is not None:
            kind = type(getattr(shape, knob))
            typed = value.lower() in {"1", "true", "yes"} if kind is bool else kind(value)
            shape = shape.but(**{knob: typed})
    files = (args.only,) if args.only else FILES
    generate(
        args.outdir,
        args.records,
        args.seed,
        with_class=args.with_class,
        distinct=args.distinct,
        files=files,
        shape=shape,
    )
    names = " and ".join(f"{args.outdir}/{f}.log" for f in files)
    print(f"wrote {names} ({args.mix} mix)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
