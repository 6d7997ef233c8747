"""What makes a benchmark log look like a real node's: one knob per property.

`generate.py` draws the AppArmor accesses; this module says how a node would write them down:
auditd's ENRICHED tails (0x1D then `FSUID="root" OUID="root"`), D-Bus USER_AVC records from
dbus-daemon (in audit.log as `type=USER_AVC`, in kern.log as `audit: type=1107 ... msg='...'`,
there split over two lines as dbus-daemon writes them), SYSCALL/PROCTITLE companions of a record,
`node=` prefixes, stacked `//&` labels, temp files and `/proc/<pid>` names that never repeat,
processes by the thousand, and the same records as `journalctl` prints them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace

ENRICHED_SEPARATOR = "\x1d"
USERS = {0: "root", 101: "systemd-network", 999: "nginx", 1000: "app", 65534: "nobody"}
DBUS_CALLS = (
    ("dbus_method_call", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
     "GetUnit", "org.freedesktop.systemd1", "send"),
    ("dbus_method_call", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello",
     "org.freedesktop.DBus", "send"),
    ("dbus_signal", "/org/freedesktop/login1", "org.freedesktop.DBus.Properties",
     "PropertiesChanged", "org.freedesktop.login1", "receive"),
    ("dbus_method_call", "/org/freedesktop/resolve1", "org.freedesktop.resolve1.Manager",
     "ResolveHostname", "org.freedesktop.resolve1", "send"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Realism:
    """How the records are written down; each share is a fraction of AppArmor records."""

    profiles: int = 30  # profiles (an app may have several)
    pids: int = 4  # processes per profile: pids and comms drawn from these
    hex_names: float = 0.03  # file names with a space or UTF-8: hex-encoded by the kernel
    unique_names: float = 0.0  # file records naming a temp file or /proc/<pid>/...: never repeat
    stacked: float = 0.0  # profiles whose records carry a stacked label `a//&b`
    with_class: bool = False  # newer kernels' layout: class=, requested=/denied=, peer_addr=
    enriched: bool = False  # audit.log: auditd's ENRICHED format (0x1D then uppercase fields)
    companions: float = 0.0  # audit.log: records followed by their SYSCALL and PROCTITLE
    node_prefix: bool = False  # audit.log: `node=<host> ` before every line
    dbus: float = 0.0  # D-Bus USER_AVC records from dbus-daemon, per line of the log
    dbus_split: float = 0.0  # kern.log: of those, the share written over two lines
    journal_text: bool = False  # also write journal.txt: the records as `journalctl` prints them
    rotate: int = 0  # also write kern.log.1 and kern.log.N.gz: the set split into N+1 parts
    fresh: bool = False  # every record drawn afresh (its access, name and command): few repeat

    @classmethod
    def option_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def but(self, **changes: object) -> Realism:
        return replace(self, **changes)  # type: ignore[arg-type]


# The benchmark's mix before issue 9: kept as one labelled row.
CLEAN = Realism()
# What a Kubernetes node with auditd writes (the default).
REALISTIC = Realism(
    profiles=200,
    pids=2000,
    hex_names=0.03,
    unique_names=0.15,
    stacked=0.1,
    enriched=True,
    companions=0.5,
    node_prefix=False,  # libapparmor 3.0.8 rejects every `node=` line: it would count none
    dbus=0.005,  # about one line in 200 on a real node (issue 9)
    dbus_split=0.5,
    journal_text=True,
    rotate=2,
)
# The held-out log of issue 24: the realistic layout and noise, but every record drawn afresh
# (other profiles, names and commands), so that at most 5% of the AppArmor lines repeat once
# their stamp and pid are set aside (`repeat_share`): what a monitor meets when a workload
# floods denials with temp-file names.
DISTINCT = REALISTIC.but(profiles=2000, pids=1, fresh=True)
MIXES = {"clean": CLEAN, "realistic": REALISTIC, "distinct": DISTINCT}
# What sets one line of a record apart from another line of the same access: its time (auditd's
# stamp, rsyslog's date, the kernel's uptime) and its process id.
_STAMPS = re.compile(
    r"audit\([0-9.]+:[0-9]+\)|^[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} |\[ *[0-9]+\.[0-9]+\] "
    r"|(?<=[ \t\"'])pid=[0-9]+"
)


def repeat_share(lines: Iterable[str]) -> float:
    """The share of the AppArmor lines (`apparmor=`) whose text, stamp and pid set aside, an
    earlier line already had."""
    seen: set[str] = set()
    records = repeats = 0
    for line in lines:
        if "apparmor=" not in line:
            continue
        records += 1
        key = _STAMPS.sub("", line)
        repeats += key in seen
        seen.add(key)
    return repeats / records if records else 0.0


def enriched_tail(body: str) -> str:
    """auditd's ENRICHED tail for a record: the uids it names, as user names."""
    parts = []
    for key in ("fsuid", "ouid"):
        at = body.find(f" {key}=")
        if at >= 0:
            value = body[at + len(key) + 2 :].split(" ", 1)[0]
            user = USERS.get(int(value), "unknown") if value.isdigit() else "unknown"
            parts.append(f'{key.upper()}="{user}"')
    return ENRICHED_SEPARATOR + " ".join(parts) if parts else ""


def dbus_message(rng: random.Random, mode: str, label: str, pid: int) -> str:
    """The inside of dbus-daemon's `msg='...'` for one mediated message."""
    op, path, interface, member, name, mask = rng.choice(DBUS_CALLS)
    return (
        f'apparmor="{mode}" operation="{op}"  bus="system" path="{path}" '
        f'interface="{interface}" member="{member}" mask="{mask}" name="{name}" pid={pid} '
        f'label={label} peer_pid=1 peer_label="unconfined"'
    )


DBUS_OUTER = 'exe="/usr/bin/dbus-daemon" sauid=102 hostname=? addr=? terminal=?\''
DBUS_SUBJECT = "pid=812 uid=102 auid=4294967295 ses=4294967295 subj=unconfined"


def user_avc_audit(stamp: str, message: str, enriched: bool) -> str:
    """The audit.log line of a dbus-daemon USER_AVC record."""
    tail = (
        f'{ENRICHED_SEPARATOR}UID="messagebus" AUID="unset" SAUID="messagebus"' if enriched else ""
    )
    return f"type=USER_AVC msg={stamp}: {DBUS_SUBJECT} msg='{message} {DBUS_OUTER}{tail}"


def user_avc_kernel(stamp: str, message: str, split: bool) -> tuple[str, str | None]:
    """kern.log's `audit: type=1107` text of it; with its continuation line where split."""
    head = f"audit: type=1107 {stamp}: {DBUS_SUBJECT} msg='{message}"
    if split:
        return head, f"                 {DBUS_OUTER}"
    return f"{head} {DBUS_OUTER}", None


def companions(stamp: str, pid: int, comm: str, exe: str, enriched: bool) -> list[str]:
    """The SYSCALL and PROCTITLE records auditd writes with a record (same stamp)."""
    sep = ENRICHED_SEPARATOR
    syscall = (
        f"type=SYSCALL msg={stamp}: arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c "
        f"a1=7ffd2c a2=80000 a3=0 items=1 ppid=1 pid={pid} auid=4294967295 uid=0 gid=0 euid=0 "
        f'suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="{comm}" '
        f'exe="{exe}" subj=unconfined key=(null)'
    )
    if enriched:
        syscall += f'{sep}ARCH=x86_64 SYSCALL=openat AUID="unset" UID="root" GID="root"'
    title = f"{exe}\0--config\0/etc/app.yaml".encode().hex().upper()
    return [syscall, f"type=PROCTITLE msg={stamp}: proctitle={title}"]


def journal_lines(prefix: str, stamp: str, body: str, pid: int, rng: random.Random) -> str:
    """A record as `journalctl` (short format) prints it: audit transport or kernel transport."""
    if rng.random() < 0.5:
        return f"{prefix} audit[{pid}]: AVC {body}"
    return f"{prefix} kernel: audit: type=1400 {stamp}: {body}"


def fresh_comm(rng: random.Random, app: str) -> str:
    """A command name no other record has (at most 15 characters, as the kernel keeps)."""
    return f"{app[:8]}-{rng.getrandbits(24):06x}"


def unique_name(rng: random.Random) -> str:
    """A name that never repeats: a temp file, or a file of a process in /proc."""
    if rng.random() < 0.5:
        return f"/tmp/tmp.{rng.getrandbits(40):010x}"
    return f"/proc/{rng.randrange(300, 4_000_000)}/{rng.choice(('status', 'stat', 'cgroup'))}"
