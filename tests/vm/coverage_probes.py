"""Coverage probes for the real kernel: profiles, the tree they are tried on, and each probe.

Every profile confines a small Python program (RUNNER) that performs its probes one by one as
root and as uid 1000 and prints one JSON line per probe: whether the access worked, its errno,
and for an exec the label the new program ran under. Python's own files are allowed by BASE;
every probed name lives under /tmp/cov, which BASE does not touch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from vm.harness import Step

ROOT, USER = 0, 1000


def words(text: str) -> list[str]:
    """The space-separated names in `text`."""
    return text.split()


UIDS = (ROOT, USER)
BASE = """\
  /opt/python/** mr,
  /tmp/cov-run/** r,
  /proc/** r,
  /dev/null rw,
  /dev/urandom r,
"""

POLICY = r"""abi <abi/3.0>,
@{HOMES}=/tmp/cov/glob/home/ /tmp/cov/glob/root/
@{CONF}=/tmp/cov/glob/etc
@{CONF}+=/tmp/cov/glob/conf.d

profile cov-glob {
@BASE@
  /tmp/cov/glob/star/* r,
  /tmp/cov/glob/star/*/ r,
  /tmp/cov/glob/dstar/** rw,
  /tmp/cov/glob/dirs/**/ rw,
  /tmp/cov/glob/q/f? r,
  /tmp/cov/glob/q/?x w,
  /tmp/cov/glob/alt/{a,b,c{1,2}}.txt rw,
  /tmp/cov/glob/alt/x{,.bak} r,
  /tmp/cov/glob/cls/[a-c]x r,
  /tmp/cov/glob/cls/z[^a-c]y r,
  /tmp/cov/glob/cls/[^a-c]n w,
  /tmp/cov/glob/tail/x* w,
  /tmp/cov/glob/tail/*.log a,
  /tmp/cov/glob/esc/a\*b r,
  @{HOMES}*/.cfg r,
  @{HOMES}*/ r,
  @{HOMES}/direct r,
  @{CONF}/** r,
  /tmp/cov/glob/mk/*/ w,
  /tmp/cov/glob/mk/f* w,
  /tmp/cov/glob/lk/* rk,
  /tmp/cov/glob/lk/m* m,
}

profile cov-owner {
@BASE@
  owner /tmp/cov/owner/mine/** rw,
  /tmp/cov/owner/pub/** r,
  owner /tmp/cov/owner/pub/** w,
  owner /tmp/cov/owner/pub/ w,
  audit owner /tmp/cov/owner/aud/* r,
  /tmp/cov/owner/aud/* a,
  owner /tmp/cov/owner/mk/ w,
  /tmp/cov/owner/mk/* r,
  owner /tmp/cov/owner/mk/* w,
  /tmp/cov/owner/lk/* rwl,
  owner /tmp/cov/owner/lk/* k,
  owner /tmp/cov/owner/mm/* rm,
}

profile cov-deny {
@BASE@
  /tmp/cov/deny/** rwlkm,
  /tmp/cov/deny/ r,
  deny /tmp/cov/deny/secret/** r,
  deny /tmp/cov/deny/ro/* w,
  audit deny /tmp/cov/deny/logged/* w,
  deny /tmp/cov/deny/app/*.log a,
  deny owner /tmp/cov/deny/mine/* r,
  deny /tmp/cov/deny/nolk/* k,
  deny /tmp/cov/deny/nomm/* m,
  deny /tmp/cov/deny/keep/ w,
  deny /tmp/cov/deny/keep/* w,
  audit /tmp/cov/deny/aud/* r,
  audit {
    /tmp/cov/deny/blk/* w,
  }
}

profile cov-exec {
@BASE@
  /tmp/cov/exec/bin/ix ix,
  /tmp/cov/exec/bin/px px -> cov-target,
  /tmp/cov/exec/bin/att px,
  /tmp/cov/exec/bin/cx cx -> kid,
  /tmp/cov/exec/bin/ux ux,
  /tmp/cov/exec/bin/pix pix,
  /tmp/cov/exec/bin/g* ix,
  /tmp/cov/exec/bin/gpx px -> cov-target,
  deny /tmp/cov/exec/bin/gno x,
  owner /tmp/cov/exec/own/* ix,
  /tmp/cov/exec/lib/** r,
  /tmp/cov/exec/lib/*.so m,
  /tmp/cov/exec/src/* r,
  /tmp/cov/exec/rw/* rw,
  /tmp/cov/exec/new/* rl,
  /tmp/cov/exec/wnew/* rwl,
  link /tmp/cov/exec/free/* -> /tmp/cov/exec/src/*,
  link subset /tmp/cov/exec/sub/* -> /tmp/cov/exec/**,
  /tmp/cov/exec/sub/* rw,
  deny /tmp/cov/exec/new/bad* l,

  profile kid {
@BASE@
    /tmp/cov/exec/bin/* mr,
  }
}

# a new profile maps the program again: it needs `m` on it (ix keeps the opener's grant)
profile cov-target {
@BASE@
  /tmp/cov/exec/bin/* mr,
}

profile cov-att /tmp/cov/exec/bin/att {
@BASE@
  /tmp/cov/exec/bin/* mr,
}
""".replace("@BASE@\n", BASE)

# The tree: (path, owner uid); a name ending in `/` is a directory. Files are 0666 and
# directories 0777 so that only AppArmor ever refuses a probe.
TREE: tuple[tuple[str, int], ...] = (
    tuple(
        (p, 0)
        for p in words(
            "glob/star/a glob/star/.h glob/star/d/ glob/star/d/f "
            "glob/dstar/a glob/dstar/d/ glob/dstar/d/e/f "
            "glob/dirs/d/ glob/dirs/d/e/ glob/dirs/d/f "
            "glob/q/f1 glob/q/f12 glob/q/f glob/q/ax glob/q/xx glob/q/x "
            "glob/alt/a.txt glob/alt/b.txt glob/alt/c1.txt glob/alt/c3.txt glob/alt/c.txt "
            "glob/alt/x glob/alt/x.bak glob/alt/x.bakk "
            "glob/cls/ax glob/cls/dx glob/cls/z/ glob/cls/z/y glob/cls/zdy glob/cls/zay "
            "glob/cls/dn glob/cls/an "
            "glob/tail/x glob/tail/xyz glob/tail/y glob/tail/a.log glob/tail/x.log "
            "glob/esc/a*b glob/esc/axb "
            "glob/home/u/ glob/home/u/.cfg glob/home/.cfg glob/home/direct "
            "glob/root/u/ glob/root/u/.cfg glob/other/u/.cfg "
            "glob/etc/a glob/etc/d/b glob/conf.d/c glob/conf/d "
            "glob/mk/ glob/lk/a glob/lk/m1 "
            "owner/pub/ owner/aud/ owner/mk/ owner/lk/ owner/mm/ owner/mine/ "
            "deny/secret/ deny/ro/ deny/logged/ deny/app/ deny/mine/ deny/nolk/ deny/nomm/ "
            "deny/keep/ deny/aud/ deny/blk/ deny/free/ "
            "exec/bin/ exec/own/ exec/lib/ exec/src/ exec/rw/ exec/new/ exec/wnew/ exec/free/ "
            "exec/sub/ exec/other/"
        )
    )
    + tuple(
        (f"{d}/{who}{n}", uid)
        for d in words(
            "owner/mine owner/pub owner/aud owner/lk owner/mm deny/secret deny/ro deny/logged "
            "deny/app deny/mine deny/nolk deny/nomm deny/keep deny/aud deny/blk deny/free "
            "exec/src exec/rw exec/lib exec/sub exec/own"
        )
        for who, uid in (("r", ROOT), ("u", USER))
        for n in ("", ".log", ".so", "1", "2")
    )
    + tuple((f"exec/bin/{n}", 0) for n in words("ix px att cx ux pix gx gpx gno other"))
    + (("deny/keep/d/", 0), ("glob/mk/old/", 0), ("owner/mk/olddir/", 1000), ("owner/mk/rdir/", 0))
)


@dataclass(frozen=True, slots=True)
class Probe:
    """One access tried by a confined task.

    `op` is read, write, append, create, mkdir, unlink, rmdir, lock (flock LOCK_EX), lock-sh
    (LOCK_SH), mmap (PROT_EXEC), exec or link;
    `path` is relative to /tmp/cov (a directory's ends in `/`), `target` the link's source.
    """

    profile: str
    uid: int
    op: str
    path: str
    target: str | None = None

    @property
    def key(self) -> str:
        return f"{self.profile}:{self.uid}:{self.op}:{self.path}:{self.target or ''}"


def _each_uid(profile: str, op: str, paths: str) -> list[Probe]:
    return [Probe(profile, uid, op, p) for uid in UIDS for p in paths.split()]


def _per_uid(profile: str, op: str, paths: str) -> list[Probe]:
    """Probes that change the tree: each uid gets its own name (`{u}` -> r or u)."""
    return [
        Probe(profile, uid, op, p.replace("{u}", "r" if uid == ROOT else "u"))
        for uid in UIDS
        for p in paths.split()
    ]


def _owned(d: str, suffixes: tuple[str, ...] = ("", "1")) -> str:
    return " ".join(f"{d}/{w}{s}" for w in "ru" for s in suffixes)


def probes() -> list[Probe]:
    """Every probe, in the order they run."""
    g, o, d, x = "cov-glob", "cov-owner", "cov-deny", "cov-exec"
    out = [
        *_each_uid(g, "read", "glob/star/a glob/star/.h glob/star/d/f glob/star/d/ glob/star/ "
                   "glob/dstar/a glob/dstar/d/e/f glob/dstar/d/ glob/dstar/ glob/dirs/d/ "
                   "glob/dirs/d/e/ glob/dirs/d/f glob/q/f1 glob/q/f12 glob/q/f "
                   "glob/alt/a.txt glob/alt/c1.txt glob/alt/c3.txt glob/alt/c.txt glob/alt/x "
                   "glob/alt/x.bak glob/alt/x.bakk glob/cls/ax glob/cls/dx glob/cls/z/y "
                   "glob/cls/zdy glob/cls/zay glob/esc/a*b glob/esc/axb glob/home/u/.cfg "
                   "glob/root/u/.cfg glob/other/u/.cfg glob/home/u/ glob/home/ glob/home/.cfg "
                   "glob/home/direct glob/etc/a glob/etc/d/b "
                   "glob/conf.d/c glob/conf/d"),
        *_each_uid(g, "write", "glob/dstar/a glob/q/ax glob/q/xx glob/q/x glob/alt/b.txt "
                   "glob/alt/x glob/cls/dn glob/cls/an glob/tail/x glob/tail/xyz glob/tail/y "
                   "glob/tail/x.log glob/tail/a.log"),
        *_each_uid(g, "append", "glob/dstar/a glob/tail/a.log glob/tail/x.log glob/tail/y "
                   "glob/star/a"),
        *_per_uid(g, "create", "glob/mk/f{u} glob/mk/g{u} glob/dstar/n{u} glob/tail/x{u}.log"),
        *_per_uid(g, "mkdir", "glob/mk/d{u}/ glob/dirs/d/n{u}/ glob/dstar/m{u}/ glob/star/s{u}/"),
        *_each_uid(g, "lock", "glob/lk/a glob/star/a glob/lk/m1 glob/dstar/a"),
        *_each_uid(g, "lock-sh", "glob/lk/a glob/star/a glob/lk/m1 glob/dstar/a"),
        *_each_uid(g, "mmap", "glob/lk/m1 glob/lk/a"),
        *_each_uid(o, "read", _owned("owner/mine") + " " + _owned("owner/pub") + " "
                   + _owned("owner/aud") + " owner/pub/ owner/mk/rdir/"),
        *_each_uid(o, "write", _owned("owner/mine") + " " + _owned("owner/pub")),
        *_each_uid(o, "append", _owned("owner/aud") + " " + _owned("owner/mine")),
        *_per_uid(o, "create", "owner/pub/n{u} owner/mk/n{u} owner/mine/n{u}"),
        *_per_uid(o, "mkdir", "owner/mk/d{u}/ owner/pub/d{u}/"),
        *_each_uid(o, "lock", _owned("owner/lk")),
        *_each_uid(o, "mmap", _owned("owner/mm")),
        *[Probe(o, uid, "unlink", f"owner/pub/{w}2") for uid in UIDS for w in "ru"
          if (w == "r") == (uid == ROOT)],
        *[Probe(o, uid, "link", f"owner/lk/{'r' if uid == ROOT else 'u'}-to-{w}",
                f"owner/lk/{w}") for uid in UIDS for w in "ru"],
        *_each_uid(d, "read", _owned("deny/secret") + " " + _owned("deny/mine") + " "
                   + _owned("deny/aud") + " deny/ro/r deny/secret/"),
        *_each_uid(d, "write", _owned("deny/ro") + " " + _owned("deny/logged") + " "
                   + _owned("deny/blk") + " deny/app/r.log deny/app/r"),
        *_each_uid(d, "append", "deny/app/r.log deny/app/u.log deny/app/r deny/ro/r"),
        *_per_uid(d, "create", "deny/ro/n{u} deny/free/n{u} deny/app/n{u}.log deny/keep/n{u}"),
        *_per_uid(d, "mkdir", "deny/keep/m{u}/ deny/free/m{u}/"),
        *_per_uid(d, "unlink", "deny/keep/{u}1 deny/free/{u}1"),
        *_each_uid(d, "lock", _owned("deny/nolk") + " deny/free/r"),
        *_each_uid(d, "mmap", _owned("deny/nomm") + " deny/free/r"),
        *[Probe(d, ROOT, "rmdir", "deny/keep/d/")],
        *_each_uid(x, "exec", "exec/bin/ix exec/bin/px exec/bin/att exec/bin/cx exec/bin/ux "
                   "exec/bin/pix exec/bin/gx exec/bin/gpx exec/bin/gno exec/bin/other "
                   "exec/own/r exec/own/u"),
        *_each_uid(x, "mmap", "exec/lib/r.so exec/lib/r exec/lib/u.so"),
        *_per_uid(x, "link", "exec/new/{u}a exec/new/bad{u} exec/wnew/{u}a exec/free/{u}a "
                  "exec/other/{u}a"),
    ]  # fmt: skip
    links = {"a": "exec/src/r", "bad": "exec/src/r"}
    fixed = []
    for p in out:
        if p.op == "link" and p.target is None:
            src = links["bad"] if "bad" in p.path else links["a"]
            fixed.append(Probe(p.profile, p.uid, p.op, p.path, src))
            if "/wnew/" in p.path:
                fixed.append(Probe(p.profile, p.uid, p.op, p.path + "w", "exec/rw/r"))
                fixed.append(Probe(p.profile, p.uid, p.op, p.path + "o", "exec/src/u"))
                fixed.append(Probe(p.profile, p.uid, p.op, p.path + "p", "exec/rw/u"))
            if "/free/" in p.path:
                fixed.append(Probe(p.profile, p.uid, p.op, p.path + "w", "exec/rw/r"))
        else:
            fixed.append(p)
    fixed += [Probe(x, uid, "link", f"exec/sub/l{uid}{s}", f"exec/{t}") for uid in UIDS
              for s, t in (("a", "src/r"), ("b", "rw/r"), ("c", "sub/r"))]  # fmt: skip
    return fixed


RUNNER = r"""
import json, mmap, os, subprocess, sys, fcntl, errno
profile, uid = sys.argv[1], int(sys.argv[2])
probes = [p for p in json.load(open("/tmp/cov-run/probes.json"))
          if p["profile"] == profile and p["uid"] == uid]
base = "/tmp/cov/"

def run(p):
    path = base + p["path"]
    op = p["op"]
    if op == "read":
        flags = os.O_RDONLY | (os.O_DIRECTORY if path.endswith("/") else 0)
        os.close(os.open(path, flags))
    elif op == "write":
        os.close(os.open(path, os.O_WRONLY))
    elif op == "append":
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
    elif op == "create":
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    elif op == "mkdir":
        os.mkdir(path, 0o777)
    elif op == "unlink":
        os.unlink(path)
    elif op == "rmdir":
        os.rmdir(path)
    elif op in ("lock", "lock-sh"):
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if op == "lock" else fcntl.LOCK_SH)
        finally:
            os.close(fd)
    elif op == "mmap":
        fd = os.open(path, os.O_RDONLY)
        try:
            mmap.mmap(fd, 1, prot=mmap.PROT_READ | mmap.PROT_EXEC).close()
        finally:
            os.close(fd)
    elif op == "link":
        os.link(base + p["target"], path)
    elif op == "exec":
        r = subprocess.run(["cat", "/proc/self/attr/current"], executable=path,
                           capture_output=True)
        if r.returncode:
            return {"ok": False, "errno": -r.returncode, "out": r.stderr.decode()}
        return {"ok": True, "errno": 0, "label": r.stdout.decode().strip()}
    return {"ok": True, "errno": 0}

for p in probes:
    try:
        res = run(p)
    except OSError as e:
        res = {"ok": False, "errno": e.errno, "out": str(e)}
    res["key"] = p["key"]
    print(json.dumps(res), flush=True)
"""


def files() -> dict[str, bytes]:
    """The policy, the runner and the probe list, for the guest's /tmp."""
    data = [{"profile": p.profile, "uid": p.uid, "op": p.op, "path": p.path,
             "target": p.target, "key": p.key} for p in probes()]  # fmt: skip
    return {
        "cov-run/policy": POLICY.encode(),
        "cov-run/runner.py": RUNNER.encode(),
        "cov-run/probes.json": json.dumps(data).encode(),
    }


def _setup() -> str:
    lines = ["set -e", "apparmor_parser -r -W /tmp/cov-run/policy", "mkdir -p /tmp/cov",
             "chmod 755 /tmp/cov-run; chmod 644 /tmp/cov-run/*"]  # fmt: skip
    for path, uid in sorted(TREE):
        full = f"/tmp/cov/{path}"
        if path.endswith("/"):
            lines.append(f"mkdir -p '{full}'; chmod 777 '{full}'; chown {uid}:{uid} '{full}'")
        else:
            lines.append(f"mkdir -p \"$(dirname '{full}')\"; echo data > '{full}'")
            lines.append(f"chmod 666 '{full}'; chown {uid}:{uid} '{full}'")
    lines.append("for f in /tmp/cov/exec/bin/* /tmp/cov/exec/own/*; do "
                 "cp /bin/busybox $f; chmod 777 $f; done")  # fmt: skip
    lines.append("chown 1000:1000 /tmp/cov/exec/own/u*")
    lines.append("find /tmp/cov -type d -exec chmod 777 {} +")
    return "\n".join(lines)


PY = (
    "LD_LIBRARY_PATH=/opt/python/lib PYTHONDONTWRITEBYTECODE=1 "
    "aaexec {profile} /opt/python/usr/bin/python3.11 -S -I /tmp/cov-run/runner.py {profile} {uid}"
)


def steps() -> tuple[Step, ...]:
    """Load the policy and build the tree, then run each profile's probes as root and as user."""
    out = [Step("coverage setup", _setup())]
    for profile in sorted({p.profile for p in probes()}):
        for uid in UIDS:
            cmd = PY.format(profile=profile, uid=uid)
            if uid != ROOT:
                cmd = f"su -s /bin/sh -c '{cmd}' user"
            out.append(Step(f"probe {profile} {uid}", f"{cmd} | cat > $OUT/{profile}-{uid}.jsonl"))
    return tuple(out)
