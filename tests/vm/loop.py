"""The closed loop's workloads: small realistic programs run under a profile, each with the
one access it never makes (the probe that the generated profile must deny).

A workload runs as profile `loop-<name>`. Boot 1 loads every profile empty, in complain mode;
boot 2 loads what `aaprof generate` made of boot 1's kernel log, in enforce mode. Each boot runs
every workload's `setup` (unconfined) then its `run` (confined; its output must be the same in
both boots); boot 2 then runs each `probe` (confined) and expects it to fail with a DENIED record.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from vm import node
from vm.harness import Step

ROOT = "/tmp/loop"
SECRET = f"{ROOT}/secret"
PROFILES = "loop-profiles"  # under /tmp: the boot's policy files
PROFILES_DIR = f"/tmp/{PROFILES}"
Want = Mapping[str, str | bytes]


@dataclass(frozen=True, slots=True)
class Workload:
    """One program of the loop: how to prepare it, run it and probe its profile."""

    name: str
    setup: str  # unconfined, before `run`, in both boots
    run: str  # the confined program; its output is compared across boots
    probe: str  # confined: an access `run` never makes; must fail (non-zero exit)
    denied: tuple[Want, ...]  # the DENIED records the probe must produce (profile implied)
    enforce_run: str | None = None  # what runs in the enforce boots instead of `run`

    @property
    def profile(self) -> str:
        return f"loop-{self.name}"

    def steps(self, probe: bool) -> tuple[Step, ...]:
        run = self.enforce_run if probe and self.enforce_run is not None else self.run
        out = [
            Step(f"{self.name}: setup", f"set -e\n{self.setup}"),
            Step(f"{self.name}: run", run),
        ]
        if probe:
            out.append(Step(f"{self.name}: probe", self.probe, expect=None))
        return tuple(out)


def _confined(profile: str, script: str) -> str:
    """A step that runs `script` (a file under /tmp) with busybox sh under `profile`."""
    return f"aaexec {profile} /bin/sh {script}"


# (a) a "web server": config files, an access log, a scratch file per request, /proc/self
WEB_SH = r"""set -e
cd /tmp/loop/web
port=$(sed -n 's/^port=//p' etc/web.conf)
workers=$(sed -n 's/^workers=//p' etc/web.conf)
echo "listening on $port with $workers workers"
for page in index.html about.html; do
    body=$(cat "www/$page")
    t=/tmp/loop/web/tmp/req-$page
    printf '%s\n' "$body" > "$t"
    echo "GET /$page 200 $(wc -c < "$t")" | tee -a log/access.log
    rm "$t"
done
echo "log lines: $(wc -l < log/access.log)"
echo "self: $(sed -n 's/^Name:[[:space:]]*//p' /proc/self/status)"
echo "limits: $(grep -c 'Max' /proc/self/limits)"
"""
WEB = Workload(
    "web",
    setup="mkdir -p /tmp/loop/web/etc /tmp/loop/web/www /tmp/loop/web/log /tmp/loop/web/tmp\n"
    "printf 'port=8080\\nworkers=4\\n' > /tmp/loop/web/etc/web.conf\n"
    "echo '<h1>home</h1>' > /tmp/loop/web/www/index.html\n"
    "echo '<p>about us</p>' > /tmp/loop/web/www/about.html\n",
    run=_confined("loop-web", "/tmp/loop/web.sh"),
    probe="aaexec loop-web /bin/cat /tmp/loop/secret",
    denied=({"operation": "open", "name": SECRET, "requested_mask": "r"},),
)

# (a2) a spooler: temporary files with random names, as mkstemp(3) (`mktemp req.XXXXXX`) and
# Go's os.CreateTemp("", "upload.*") (random decimal digits) make them
SPOOL_SH = r"""set -e
cd /tmp/loop/spool
for i in 1 2 3; do
    t=$(mktemp /tmp/loop/spool/req.XXXXXX)
    echo "request $i" > "$t"
    u=/tmp/loop/spool/upload.$RANDOM$RANDOM
    (set -C; echo "upload $i" > "$u")
    read -r a < "$t"; read -r b < "$u"
    echo "$a, $b"
    rm "$t" "$u"
done
"""
SPOOL = Workload(
    "spool",
    setup="mkdir -p /tmp/loop/spool",
    run=_confined("loop-spool", "/tmp/loop/spool.sh"),
    probe="aaexec loop-spool /bin/cat /tmp/loop/secret",
    denied=({"operation": "open", "name": SECRET, "requested_mask": "r"},),
)

# (b) a backup job: directories, hard links, a rename, a tarball, chown (capability)
BACKUP_SH = r"""set -e
src=/tmp/loop/backup/src dst=/tmp/loop/backup/dst
mkdir -p $dst/daily.0
for f in a.txt b.txt; do ln $src/$f $dst/daily.0/$f; done
mv $dst/daily.0 $dst/daily.1
tar -cf $dst/daily.1.tar -C $dst daily.1
chown 1000:1000 $dst/daily.1.tar
echo "files: $(ls $dst/daily.1 | tr '\n' ' ')"
echo "links: $(stat -c %h $dst/daily.1/a.txt)"
echo "owner: $(stat -c %u:%g $dst/daily.1.tar)"
cat $dst/daily.1/a.txt $dst/daily.1/b.txt | md5sum
"""
BACKUP = Workload(
    "backup",
    setup="mkdir -p /tmp/loop/backup/src /tmp/loop/backup/dst\n"
    "echo alpha > /tmp/loop/backup/src/a.txt\necho beta > /tmp/loop/backup/src/b.txt\n",
    run=_confined("loop-backup", "/tmp/loop/backup.sh"),
    probe="aaexec loop-backup /bin/sh -c 'echo x > /root/backup-elsewhere'",
    denied=({"name": "/root/backup-elsewhere"},),
)

# Python itself, not the /usr/local/bin/python3 wrapper: a shell script whose exec of Python
# would put Python in a learning (null-) profile that mediates no signal or ptrace
PYTHON = (
    "LD_LIBRARY_PATH=/opt/python/lib PYTHONDONTWRITEBYTECODE=1 "
    "aaexec loop-supervisor /opt/python/usr/bin/python3.11"
)

# (c) a supervisor (Python): forks a child, signals it, ptrace-attaches and reads its environ
SUPERVISOR_PY = r"""import ctypes, os, signal, sys, time
libc = ctypes.CDLL(None, use_errno=True)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    got = []
    signal.signal(signal.SIGUSR1, lambda *_: got.append(1))
    os.write(w, b"ready")
    while not got:
        time.sleep(0.01)
    os.write(w, b"usr1")
    signal.pause()
    os._exit(0)
os.close(w)
assert os.read(r, 5) == b"ready"
os.kill(pid, signal.SIGUSR1)
print("child says", os.read(r, 4).decode())
with open(f"/proc/{pid}/environ", "rb") as f:
    print("child has PATH:", any(v.startswith(b"PATH=") for v in f.read().split(b"\0")))
if libc.ptrace(16, pid, 0, 0) != 0:  # PTRACE_ATTACH
    sys.exit(f"attach: errno {ctypes.get_errno()}")
os.waitpid(pid, 0)
print("attached")
libc.ptrace(17, pid, 0, 0)  # PTRACE_DETACH
os.kill(pid, signal.SIGTERM)
_, status = os.waitpid(pid, 0)
print("child ended by signal", os.WTERMSIG(status))
"""
SUPERVISOR = Workload(
    "supervisor",
    setup="true",
    run=f"{PYTHON} /tmp/loop/supervisor.py",
    probe=f"{PYTHON} -c 'open(\"/tmp/loop/secret\").read()'",
    denied=({"operation": "open", "name": SECRET, "requested_mask": "r"},),
)

# (d) a tool that execs its helpers: a copy of busybox and a shell script (ix transitions)
TOOL_SH = r"""#!/bin/sh
set -e
d=/tmp/loop/tool
echo "sum: $($d/bin/sha256sum $d/data/input | cut -c1-16)"
echo "count: $($d/bin/count.sh $d/data/input)"
echo "upper: $($d/bin/tr a-z A-Z < $d/data/input)"
"""
COUNT_SH = '#!/bin/sh\nwc -w < "$1"\n'
TOOL = Workload(
    "tool",
    setup="mkdir -p /tmp/loop/tool/bin /tmp/loop/tool/data\n"
    "cp /bin/busybox /tmp/loop/tool/bin/sha256sum\ncp /bin/busybox /tmp/loop/tool/bin/tr\n"
    "cp /tmp/loop/tool.sh /tmp/loop/tool/tool.sh\ncp /tmp/loop/count.sh /tmp/loop/tool/bin/\n"
    "echo 'the quick brown fox' > /tmp/loop/tool/data/input\n",
    run="aaexec loop-tool /tmp/loop/tool/tool.sh",
    probe="aaexec loop-tool /tmp/loop/tool/bin/sha256sum /tmp/loop/secret",
    denied=({"operation": "open", "name": SECRET, "requested_mask": "r"},),
)


@dataclass(frozen=True, slots=True)
class ContainerWorkload:
    """A runc container (Kubernetes-shaped cgroup) running `script` under its profile."""

    name: str
    script: str
    rootfs_setup: str  # run in the rootfs, unconfined, before the container starts
    probe_script: str
    denied: tuple[Want, ...]
    systemd: bool = False
    capabilities: tuple[str, ...] = ()
    # the uid (and gid) `script` runs as in the enforce boots (the same pod as another user),
    # and the environment it gets there besides PATH
    enforce_uid: int | None = None
    enforce_env: tuple[str, ...] = ()

    @property
    def profile(self) -> str:
        return f"loop-{self.name}"

    def container(self, probe: bool) -> node.Container:
        suffix = "-probe" if probe else ""
        return node.Container(f"loop-{self.name}{suffix}", self.profile, systemd=self.systemd)

    def config(self, probe: bool, other: bool = False) -> bytes:
        spec = json.loads(self.container(probe).config())
        spec["process"]["args"] = ["sh", "-c", self.probe_script if probe else self.script]
        caps = [f"CAP_{c.upper()}" for c in self.capabilities]
        spec["process"]["capabilities"] = dict.fromkeys(
            ("bounding", "effective", "permitted"), caps
        )
        if other and self.enforce_uid is not None:
            spec["process"]["user"] = {"uid": self.enforce_uid, "gid": self.enforce_uid}
            spec["process"]["env"] += list(self.enforce_env)
        return json.dumps(spec, indent=2).encode()

    def steps(self, probe: bool) -> tuple[Step, ...]:
        bundle = f"/tmp/bundles/{self.name}"
        setup = f"""set -e
b={bundle}
mkdir -p $b/rootfs/bin $b/rootfs/proc $b/rootfs/dev $b/rootfs/tmp $b/rootfs/etc
cp /bin/busybox $b/rootfs/bin/
for a in $(busybox --list); do [ $a = busybox ] || ln -s busybox $b/rootfs/bin/$a; done
echo top-secret > $b/rootfs/secret
cd $b/rootfs
{self.rootfs_setup}
"""
        as_other = probe and self.enforce_uid is not None
        out = [
            Step(f"{self.name}: setup", setup),
            Step(f"{self.name}: run", self._run(False, "-other" if as_other else "")),
        ]
        if probe:
            out.append(Step(f"{self.name}: probe", self._run(True), expect=None))
        return tuple(out)

    def _run(self, probe: bool, variant: str = "") -> str:
        c = self.container(probe)
        return (
            f"cp /tmp/{c.name}{variant}.json /tmp/bundles/{self.name}/config.json\n"
            f"{node.ROOT_CMD} run --no-pivot -b /tmp/bundles/{self.name} {shlex.quote(c.name)}"
        )

    def files(self) -> dict[str, bytes]:
        out = {f"{self.container(p).name}.json": self.config(p) for p in (False, True)}
        if self.enforce_uid is not None:
            name = self.container(False).name
            out[f"{name}-other.json"] = self.config(False, other=True)
        return out


# (e1) a containerised web app: config, a log directory, /proc/self
C_WEB = ContainerWorkload(
    "c-web",
    script="set -e; cat /etc/app.conf; mkdir -p /var/log/app; "
    "echo started >> /var/log/app/app.log; echo log: $(wc -l < /var/log/app/app.log); "
    "echo data: $(ls /data); echo threads: $(grep Threads /proc/self/status)",
    rootfs_setup="echo 'mode=production' > etc/app.conf; mkdir -p data var; "
    "echo 1 > data/one; echo 2 > data/two",
    probe_script="cat /secret",
    denied=({"operation": "open", "name": "/secret", "requested_mask": "r"},),
)

# (e2) a containerised worker (systemd cgroup driver): chown and a switch to uid 1000
C_WORKER = ContainerWorkload(
    "c-worker",
    script="set -e; mkdir -p /work/out; echo result > /work/out/r.txt; "
    "chown -R 1000:1000 /work/out; "
    "su -s /bin/sh -c 'echo uid $(id -u); cat /work/out/r.txt; "
    "echo more >> /work/out/r.txt' worker; wc -l < /work/out/r.txt",
    rootfs_setup="mkdir -p work; echo 'root:x:0:0::/:/bin/sh' > etc/passwd; "
    "echo 'worker:x:1000:1000::/work:/bin/sh' >> etc/passwd; "
    "printf 'root:x:0:\\nworker:x:1000:\\n' > etc/group",
    probe_script="echo x > /etc/new-file",
    denied=({"name": "/etc/new-file"},),
    systemd=True,
    capabilities=("chown", "setuid", "setgid"),
)

# (f) hostile names: a confined shell creates and reads files with these names (builtins only,
# so every access is the profile's own); each sibling is a file the name would match were it a
# glob, made unconfined, never touched by the run: the generated profile must deny it
NAMES_DIR = "/tmp/loop/names"
HOSTILE: tuple[tuple[bytes, bytes | None], ...] = (
    (b"new\nline", b"new"),
    (b"brace}", None),
    (b'quo"te', None),
    (b"com,ma", None),
    (b"**", b"x"),
    (b"with space", None),
    (b"{a,b}", b"a"),
    (b"@{HOME}", None),
    (b"\xff\xfe-not-utf8", None),
    (b"[ab]", b"b"),
    (b"star*", b"starx"),
    (b"q?", b"qq"),
    (b"back\\slash", b"backslash"),
    (b"#hash", None),
)
SIBLINGS = tuple(s for _, s in HOSTILE if s is not None)


def _printf_octal(name: bytes) -> str:
    return "".join(f"\\{b:03o}" for b in name)


def _names_script() -> str:
    lines = ["set -e", f"cd {NAMES_DIR}"]
    for i, (name, _) in enumerate(HOSTILE):
        lines += [
            f"n=$(printf '{_printf_octal(name)}')",
            f'echo "content {i}" > "$n"',
            'read -r line < "$n"',
            f'echo "{i}: $line"',
        ]
    return "\n".join(lines) + "\n"


def _names_probe() -> str:
    lines = [f"cd {NAMES_DIR}"]
    for s in SIBLINGS:
        lines.append(
            f'aaexec loop-names /bin/cat {NAMES_DIR}/{s.decode()}; echo "rc {s.decode()} $?"'
        )
    return "\n".join(lines) + "\n"


NAMES = Workload(
    "names",
    setup=f"mkdir -p {NAMES_DIR}\n"
    + "".join(f"echo sibling > {NAMES_DIR}/{s.decode()}\n" for s in SIBLINGS),
    run=_confined("loop-names", "/tmp/loop/names.sh"),
    probe=_names_probe(),
    denied=tuple(
        {"operation": "open", "name": f"{NAMES_DIR}/{s.decode()}", "requested_mask": "r"}
        for s in SIBLINGS
    ),
)

# (g) numbered siblings, as nginx's client_temp: 3 files while learning, 20 under the generated
# profile (the names it learnt from and names it never saw); a file of another shape in the
# same directory stays denied
NUMBERED_DIR = "/var/cache/app/client_temp"
NUMBERED_SH = r"""set -e
n=$1
i=1
while [ $i -le $n ]; do
    f=/var/cache/app/client_temp/$(printf '%010d' $i)
    echo "request $i" > "$f"
    i=$((i + 1))
done
echo "wrote $n files"
"""
NUMBERED_LEARN, NUMBERED_ENFORCE = 3, 20
NUMBERED = Workload(
    "numbered",
    setup=f"mkdir -p {NUMBERED_DIR}\nrm -f {NUMBERED_DIR}/*\n",
    run=_confined("loop-numbered", f"/tmp/loop/numbered.sh {NUMBERED_LEARN}"),
    enforce_run=_confined("loop-numbered", f"/tmp/loop/numbered.sh {NUMBERED_ENFORCE}"),
    probe=f"aaexec loop-numbered /bin/sh -c 'echo x > {NUMBERED_DIR}/abc.conf'",
    denied=({"name": f"{NUMBERED_DIR}/abc.conf"},),  # a create: operation mknod or open
)

# (e3) a batch job learnt while it ran as root, enforced while it runs as uid 1000 with other
# temporary names (mktemp draws a new one each run; the second name, mktemp-shaped, in a
# directory of its own, is /tmp/job/tmp.1.XYZ in the learning boot and /tmp/job/tmp.2.QRS
# after, so that the check does not hang on a random draw): the image's root-owned shell and
# config are not its own files (no `owner` on them), its temp files are (`owner /tmp/tmp.* rw,`)
C_TEMP = ContainerWorkload(
    "c-temp",
    script="set -e; cat /etc/job.conf; t=$(mktemp); echo 'partial result' > $t; "
    'read -r line < $t; echo "read back: $line"; rm $t; '
    "u=/tmp/job/tmp.${TEMP_NAME:-1.XYZ}; echo more > $u; "
    'read -r line < $u; echo "read back: $line"; rm $u; echo done',
    rootfs_setup="chmod 1777 tmp; mkdir -m 1777 tmp/job; echo 'job=nightly' > etc/job.conf",
    probe_script="cat /secret",
    denied=({"operation": "open", "name": "/secret", "requested_mask": "r"},),
    enforce_uid=1000,
    enforce_env=("TEMP_NAME=2.QRS",),
)

AnyWorkload = Workload | ContainerWorkload
WORKLOADS: tuple[Workload, ...] = (WEB, SPOOL, BACKUP, SUPERVISOR, TOOL, NAMES)
CONTAINERS: tuple[ContainerWorkload, ...] = (C_WEB, C_WORKER, C_TEMP)


ALL: tuple[AnyWorkload, ...] = (*WORKLOADS, *CONTAINERS, NUMBERED)


def profile_names() -> list[str]:
    """Every profile the loop runs under."""
    return [w.profile for w in ALL]


def empty_profiles(names: list[str]) -> str:
    """One policy file: every profile in `names`, empty, in complain mode."""
    parts = ["abi <abi/3.0>,\ninclude <tunables/global>\n"]
    parts += [f"profile {n} flags=(complain) {{\n}}\n" for n in names]
    return "\n".join(parts)


def script_files() -> dict[str, bytes]:
    """The workloads' programs and the containers' configs, for the guest's /tmp."""
    out = {
        "loop/web.sh": WEB_SH.encode(),
        "loop/spool.sh": SPOOL_SH.encode(),
        "loop/backup.sh": BACKUP_SH.encode(),
        "loop/supervisor.py": SUPERVISOR_PY.encode(),
        "loop/tool.sh": TOOL_SH.encode(),
        "loop/count.sh": COUNT_SH.encode(),
        "loop/names.sh": _names_script().encode(),
        "loop/numbered.sh": NUMBERED_SH.encode(),
        "loop/secret": b"top-secret\n",
    }
    for c in CONTAINERS:
        out.update(c.files())
    return out


def steps(probe: bool) -> tuple[Step, ...]:
    """Every workload's steps, in order."""
    return tuple(s for w in ALL for s in w.steps(probe))
