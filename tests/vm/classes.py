"""One workload per class the Debian 6.1 kernel mediates, each run under a complain-mode and an
enforce-mode profile, with the records the kernel must write for it (the ground truth).

A case's profile is named `t-<case>-<mode>`; `{P}` in its rules, script and expectations stands
for that name and `{D}` for its own directory `/tmp/<mode>/<case>` (made, with a file `f` in it,
before the steps run). `{mode}` is the mode itself. Every expected record gets `apparmor=` ALLOWED
(complain) or DENIED (enforce) unless it says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from vm.harness import Step

MODES = ("complain", "enforce")
SLEEPER = "sleep 1000000"  # a process that is there until killed (11 days: longer than any run)
Want = Mapping[str, str | bytes]


@dataclass(frozen=True, slots=True)
class Case:
    """A workload: the rules of its profile, the script run under it, the records it yields."""

    name: str
    rules: str
    script: str
    expect: tuple[Want, ...]
    extra_profiles: str = ""  # more profiles (attached to paths under {D}), same mode
    enforce_rc: int | None = None  # exit status in enforce mode (complain: None, any)
    modes: tuple[str, ...] = MODES
    setup: str = ""  # run unconfined before the steps

    def fill(self, text: str, mode: str) -> str:
        return (
            text.replace("{P}", self.profile(mode))
            .replace("{D}", f"/tmp/{mode}/{self.name}")
            .replace("{mode}", mode)
            .replace("{F}", "flags=(complain) " if mode == "complain" else "")
        )

    def profile(self, mode: str) -> str:
        if self.name == "names":  # the kernel hex-encodes a profile name with a space
            return f"t names, {mode}"
        return f"t-{self.name}-{mode}"

    def wants(self, mode: str) -> list[dict[str, bytes]]:
        """The expected records for `mode`, placeholders filled, values as bytes."""
        out = []
        for want in self.expect:
            filled = {"apparmor": b"ALLOWED" if mode == "complain" else b"DENIED"}
            for key, value in want.items():
                raw = value.encode() if isinstance(value, str) else value
                placeholder = raw.replace(b"{P}", self.profile(mode).encode())
                placeholder = placeholder.replace(b"{mode}", mode.encode())
                filled[key] = placeholder.replace(b"{D}", f"/tmp/{mode}/{self.name}".encode())
            if filled.get("apparmor") in (b"ALLOWED:ONLY", b"DENIED:ONLY"):
                if not filled["apparmor"].startswith(filled_mode(mode)):
                    continue
                filled["apparmor"] = filled_mode(mode)
            out.append(filled)
        return out

    def step_name(self, mode: str) -> str:
        return f"{self.name} ({mode})"


def filled_mode(mode: str) -> bytes:
    return b"ALLOWED" if mode == "complain" else b"DENIED"


def _file(op: str, name: str, mask: str, **extra: str) -> dict[str, str]:
    return {"operation": op, "profile": "{P}", "name": name, "requested_mask": mask,
            "denied_mask": mask, **extra}  # fmt: skip


WEIRD_NAMES = (
    "with space",
    "new\nline",
    'quo"te',
    "{brace}",
    "com,ma",
    "\udcff\udcfe-not-utf8",
)

CASES: tuple[Case, ...] = (
    Case("file-r", "", "aaexec {P} cat {D}/f", (_file("open", "{D}/f", "r", fsuid="0", ouid="0"),),
         enforce_rc=1),
    Case("file-w", "", "aaexec {P} sh -c 'echo x > {D}/f'",
         (_file("open", "{D}/f", "wc", fsuid="0", ouid="0"),), enforce_rc=1),
    Case("file-a", "", "aaexec {P} sh -c 'echo x >> {D}/f'",
         (_file("open", "{D}/f", "ac", fsuid="0", ouid="0"),), enforce_rc=1),
    Case("file-l", "{D}/f r,", "aaexec {P} ln {D}/f {D}/l",
         (_file("link", "{D}/l", "l", target="{D}/f"),), enforce_rc=1),
    Case("file-k", "/** rmix,\n{D}/f rw,",
         "aaexec {P} python3 -c 'import fcntl; fcntl.flock(open(\"{D}/f\", \"r+\"), 2)'",
         (_file("file_lock", "{D}/f", "k"),), enforce_rc=1),
    Case("file-m", "/usr/sbin/apparmor_parser r,\n/{,usr/}lib{,64}/** r,",
         "aaexec {P} /usr/sbin/apparmor_parser --version",
         (_file("file_mmap", "/lib/x86_64-linux-gnu/libc.so.6", "m"),), enforce_rc=127),
    Case("file-x", "", "aaexec {P} sh -c '{D}/prog'",
         (_file("exec", "{D}/prog", "x"),), enforce_rc=126,
         setup="cp /bin/busybox {D}/prog"),
    Case("owner-other", "owner {D}/** r,", "aaexec {P} cat {D}/theirs",
         (_file("open", "{D}/theirs", "r", fsuid="0", ouid="1000"),), enforce_rc=1,
         setup="echo x > {D}/theirs; chown 1000:1000 {D}/theirs"),
    Case("owner-user", "owner {D}/** r,",
         "su -s /bin/sh -c 'aaexec {P} cat {D}/f' user",
         (_file("open", "{D}/f", "r", fsuid="1000", ouid="0"),), enforce_rc=1,
         setup="chmod 644 {D}/f; chmod 755 /tmp/{mode} {D}"),
    Case("exec-ix", "/bin/busybox rix,\n{D}/cat ix,",
         "aaexec {P} sh -c '{D}/cat /etc/passwd'",
         (_file("open", "/etc/passwd", "r", comm="cat"),), enforce_rc=1,
         setup="cp /bin/busybox {D}/cat"),
    Case("exec-px", "/bin/busybox rix,\n{D}/cat px,", "aaexec {P} sh -c '{D}/cat /etc/passwd'",
         ({"operation": "open", "profile": "t-exec-px-{mode}-target", "name": "/etc/passwd",
           "requested_mask": "r"},),
         extra_profiles="profile t-exec-px-{mode}-target {D}/cat {\n  {D}/cat r,\n}\n",
         enforce_rc=1,
         setup="cp /bin/busybox {D}/cat"),
    Case("exec-px-missing", "/bin/busybox rix,\n{D}/cat px,",
         "aaexec {P} sh -c '{D}/cat /etc/passwd'",
         ({"operation": "exec", "profile": "{P}", "name": "{D}/cat", "error": "-13",
           "info": "profile transition not found", "requested_mask": "x", "denied_mask": "x",
           "target": "{D}/cat"},),
         enforce_rc=126, setup="cp /bin/busybox {D}/cat"),
    Case("exec-cx", "/bin/busybox rix,\n{D}/cat cx -> child,\nprofile child {F}{\n  {D}/cat r,\n}",
         "aaexec {P} sh -c '{D}/cat /etc/passwd'",
         ({"operation": "open", "profile": "{P}//child", "name": "/etc/passwd",
           "requested_mask": "r"},), enforce_rc=1, setup="cp /bin/busybox {D}/cat"),
    Case("exec-nnp", "/bin/busybox rix,\n{D}/cat px,",
         "aaexec {P} setpriv --nnp {D}/cat /etc/passwd",
         ({"operation": "exec", "profile": "{P}", "name": "{D}/cat", "error": "-1",
           "info": "no new privs", "target": "t-exec-nnp-{mode}-target"},),
         extra_profiles="profile t-exec-nnp-{mode}-target {D}/cat {\n  /etc/** r,\n}\n",
         enforce_rc=126, setup="cp /bin/busybox {D}/cat"),
    Case("capability", "{D}/** rw,", "aaexec {P} chown 1000 {D}/f; aaexec {P} mknod {D}/n c 1 3",
         ({"operation": "capable", "profile": "{P}", "capability": "0", "capname": "chown"},
          {"operation": "capable", "profile": "{P}", "capability": "27", "capname": "mknod"}),
         enforce_rc=1),
    Case("signal", "/bin/busybox rix,",
         # the targets live until killed (SLEEPER), however slow the guest; the receiver must
         # run under {P} before the signal: wait until it does (in enforce mode it outlives the
         # step, as nothing unconfined may signal it)
         f"{SLEEPER} & s=$!; aaexec {{P}} kill -USR1 $s; r=$?; kill -9 $s\n"
         f"aaexec {{P}} {SLEEPER} & c=$!\n"
         "until grep -q '^{P} (' /proc/$c/attr/current; do usleep 10000; done\n"
         "kill -TERM $c; exit $r",
         ({"operation": "signal", "profile": "{P}", "requested_mask": "send",
           "denied_mask": "send", "signal": "usr1", "peer": "unconfined"},
          {"operation": "signal", "profile": "{P}", "requested_mask": "receive",
           "denied_mask": "receive", "signal": "term", "peer": "unconfined"}),
         enforce_rc=1),
    Case("ptrace", "file,",
         "aaexec {P} cat /proc/1/environ > /dev/null; r=$?\n"
         f"{SLEEPER} & s=$!\n"
         "aaexec {P} python3 -c 'import ctypes,sys; l=ctypes.CDLL(None, use_errno=True); "
         "sys.exit(0 if l.ptrace(16, int(sys.argv[1]), 0, 0) == 0 else 1)' $s; t=$?\n"
         "kill -9 $s; exit $((r + t))",
         ({"operation": "ptrace", "profile": "{P}", "requested_mask": "read",
           "denied_mask": "read", "peer": "unconfined"},
          {"operation": "ptrace", "profile": "{P}", "requested_mask": "trace",
           "denied_mask": "trace", "peer": "unconfined"}),
         enforce_rc=2),
    Case("mount", "file,\ncapability sys_admin,",
         "unshare -m sh -c '"
         "aaexec {P} mount -t tmpfs none {D}/m; a=$?\n"
         "mount -t tmpfs none {D}/u; aaexec {P} umount {D}/u; b=$?\n"
         "mount -t tmpfs none {D}/new; mkdir {D}/new/old; "
         "aaexec {P} pivot_root {D}/new {D}/new/old; c=$?\n"
         "echo $a $b $c'",
         ({"operation": "mount", "profile": "{P}", "name": "{D}/m/", "fstype": "tmpfs",
           "srcname": "none"},
          {"operation": "umount", "profile": "{P}", "name": "{D}/u/"},
          {"operation": "pivotroot", "profile": "{P}", "name": "{D}/new/",
           "srcname": "{D}/new/old/"}),
         setup="mkdir {D}/m {D}/u {D}/new"),
    Case("change-profile", "/bin/busybox rix,\n/proc/** rw,",
         "aaexec {P} sh -c 'printf \"changeprofile t-change-target\" > /proc/self/attr/current'; "
         "aaexec {P} sh -c 'printf \"exec t-change-target\" > /proc/self/attr/exec'",
         ({"operation": "change_profile", "profile": "{P}", "name": "t-change-target"},
          {"operation": "change_onexec", "profile": "{P}", "name": "t-change-target"}),
         enforce_rc=1),
    Case("hat", "/bin/busybox rix,\n/proc/** rw,\n^hat1 {F}{\n  /bin/busybox rix,\n  "
         "/proc/** rw,\n}",
         "aaexec {P} sh -c 'printf \"changehat 12345^hat1\" > /proc/self/attr/current && "
         "cat {D}/f'",
         (_file("open", "{D}/f", "r", profile="{P}//hat1"),), enforce_rc=1),
    Case("names", "/bin/busybox rix,\n{D}/names/ r,", "aaexec '{P}' sh -c 'cat {D}/names/*'",
         tuple(_file("open", f"{{D}}/names/{n}".encode(errors="surrogateescape"), "r")  # type: ignore[arg-type]
               for n in WEIRD_NAMES), enforce_rc=1),
)  # fmt: skip


def profiles(mode: str) -> str:
    """Every case's profile for `mode`, as one file."""
    flags = "flags=(complain) " if mode == "complain" else ""
    parts = ["abi <abi/3.0>,\ninclude <tunables/global>\n",
             f"profile t-change-target {flags}{{\n}}\n"]  # fmt: skip
    for case in CASES:
        rules = "\n".join(f"  {r}" for r in case.fill(case.rules, mode).splitlines())
        parts.append(f'profile "{case.profile(mode)}" {flags}{{\n{rules}\n}}\n')
        if case.extra_profiles:
            extra = case.fill(case.extra_profiles, mode)
            parts.append(extra.replace(" {\n", f" {flags}{{\n", 1))
    return "\n".join(parts)


def files() -> dict[str, bytes]:
    """The profiles and the named files, for the guest's /tmp."""
    out = {f"profiles-{mode}": profiles(mode).encode() for mode in MODES}
    for mode in MODES:
        for n in WEIRD_NAMES:
            out[f"{mode}/names/names/{n}"] = b"x\n"
    return out


def steps() -> tuple[Step, ...]:
    """Load both modes' profiles, set up each case's directory, run every case in each mode."""
    setup = ["set -e"]
    for mode in MODES:
        setup.append(f"apparmor_parser -r -W /tmp/profiles-{mode}")
        for case in CASES:
            d = f"/tmp/{mode}/{case.name}"
            setup.append(f"mkdir -p {d}; echo data > {d}/f")
            if case.setup:
                setup.append(case.fill(case.setup, mode))
    out = [Step("load class profiles", "\n".join(setup))]
    for mode in MODES:
        for case in CASES:
            rc = case.enforce_rc if mode == "enforce" else None
            out.append(Step(case.step_name(mode), case.fill(case.script, mode), expect=rc))
    return tuple(out)
