"""Write sample-logs/: one small, realistic Kubernetes node story in every log format aaprof reads.

Run: .venv/bin/python scripts/sample-logs.py   (deterministic; sample-logs/kernel/ is written by
scripts/vm-sample-logs.py from a real kernel instead). No personal data: hosts, pods and users
are invented.

The story: on two nodes, containerd runs pods of a `shop` namespace. `web` (nginx) runs under a
complain-mode profile named by aaprof's scheme (aaprof.shop.web.nginx), so its accesses are
ALLOWED records — among them the request bodies nginx buffers to numbered temporary files,
client_temp/0000000001..3, which `aaprof generate` learns as one glob (client_temp/[0-9]*, so
the fourth request is allowed too: docs/generate.md, "Learning from siblings"); `cache` (redis) runs enforced and has some accesses DENIED; other pods use the
runtime default profile (cri-containerd.apparmor.d). Profiles get loaded (STATUS), D-Bus on the
host denies a call, and kernel/audit noise surrounds it all.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "sample-logs"
START = 1_732_400_000  # 2024-11-23T22:13:20Z

WEB = "aaprof.shop.web.nginx"
CACHE = "aaprof.shop.cache.redis"
DEFAULT = "cri-containerd.apparmor.d"


def hexed(text: str) -> str:
    return text.encode().hex().upper()


def payloads() -> list[str]:
    """The AppArmor payloads of the story, in order (the part after `audit(...): `)."""
    file = (
        'apparmor="{mode}" operation="{op}" profile="{profile}" name="{name}" pid={pid} '
        'comm="{comm}" requested_mask="{mask}" denied_mask="{mask}" fsuid={uid} ouid={ouid}'
    )
    out = [
        'apparmor="STATUS" operation="profile_load" profile="unconfined" '
        f'name="{name}" pid=812 comm="apparmor_parser"'
        for name in (DEFAULT, WEB, CACHE)
    ]
    for n in range(3):
        out += [
            file.format(mode="ALLOWED", op="open", profile=WEB, name=name, pid=4101 + n,
                        comm="nginx", mask=mask, uid=101, ouid=0)
            for name, mask in (
                ("/etc/nginx/nginx.conf", "r"),
                ("/etc/nginx/conf.d/default.conf", "r"),
                ("/usr/share/nginx/html/index.html", "r"),
                (f"/var/cache/nginx/client_temp/000000000{n + 1}", "wc"),
                ("/var/log/nginx/access.log", "w"),
            )
        ]
    out += [
        'apparmor="ALLOWED" operation="exec" profile="aaprof.shop.web.nginx" '
        'name="/docker-entrypoint.sh" pid=4100 comm="runc:[2:INIT]" requested_mask="x" '
        'denied_mask="x" fsuid=0 ouid=0 target="aaprof.shop.web.nginx//null-/docker-entrypoint.sh"',
        'apparmor="ALLOWED" operation="capable" profile="aaprof.shop.web.nginx" pid=4100 '
        'comm="nginx" capability=6  capname="setgid"',
        'apparmor="ALLOWED" operation="capable" profile="aaprof.shop.web.nginx" pid=4100 '
        'comm="nginx" capability=10  capname="net_bind_service"',
        'apparmor="ALLOWED" operation="create" profile="aaprof.shop.web.nginx" pid=4100 '
        'comm="nginx" family="inet" sock_type="stream" protocol=6 requested_mask="create" '
        'denied_mask="create"',
        # a file name with a space: the kernel writes it in hex
        f'apparmor="ALLOWED" operation="open" profile="{WEB}" '
        f"name={hexed('/usr/share/nginx/html/summer sale.html')} pid=4102 comm=\"nginx\" "
        'requested_mask="r" denied_mask="r" fsuid=101 ouid=0',
        file.format(mode="DENIED", op="open", profile=CACHE, name="/etc/shadow", pid=5203,
                    comm="redis-server", mask="r", uid=999, ouid=0),
        file.format(mode="DENIED", op="mkdir", profile=CACHE, name="/data/backup/", pid=5203,
                    comm="redis-server", mask="c", uid=999, ouid=999),
        'apparmor="DENIED" operation="capable" profile="aaprof.shop.cache.redis" pid=5203 '
        'comm="redis-server" capability=21  capname="sys_admin"',
        'apparmor="DENIED" operation="ptrace" profile="aaprof.shop.cache.redis" pid=5203 '
        'comm="redis-server" requested_mask="read" denied_mask="read" peer="unconfined"',
        'apparmor="DENIED" operation="signal" profile="aaprof.shop.cache.redis" pid=5203 '
        'comm="redis-server" requested_mask="send" denied_mask="send" signal=kill '
        'peer="cri-containerd.apparmor.d"',
        'apparmor="DENIED" operation="mount" info="failed flags match" error=-13 '
        'profile="cri-containerd.apparmor.d" name="/sys/fs/cgroup/" pid=6310 comm="mount" '
        'fstype="cgroup2" srcname="cgroup2" flags="rw, nosuid, nodev, noexec"',
        file.format(mode="DENIED", op="open", profile=DEFAULT, name="/proc/sysrq-trigger",
                    pid=6311, comm="sh", mask="w", uid=0, ouid=0),
        file.format(mode="AUDIT", op="open", profile=CACHE, name="/data/dump.rdb", pid=5203,
                    comm="redis-server", mask="r", uid=999, ouid=999),
    ]
    return out


NOISE = [
    'type=SYSCALL msg=audit({stamp}): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c '
    'a1=7ffd2b1c a2=0 a3=0 items=1 ppid=1 pid=4101 auid=4294967295 uid=101 gid=101 euid=101 '
    'suid=101 fsuid=101 egid=101 sgid=101 fsgid=101 tty=(none) ses=4294967295 comm="nginx" '
    'exe="/usr/sbin/nginx" key=(null)',
    "type=PROCTITLE msg=audit({stamp}): proctitle=6E67696E78002D67",
]


def stamp(n: int) -> str:
    return f"{START + n * 7}.{(n * 37) % 1000:03d}:{1000 + n}"


def when(n: int) -> datetime:
    return datetime.fromtimestamp(START + n * 7 + ((n * 37) % 1000) / 1000, tz=UTC)


def audit_log(node: str, records: list[tuple[int, str]]) -> str:
    lines = []
    for n, payload in records:
        lines.append(f"node={node} type=AVC msg=audit({stamp(n)}): {payload}")
        if n % 4 == 0:
            lines += [f"node={node} " + noise.format(stamp=stamp(n)) for noise in NOISE]
    return "\n".join(lines) + "\n"


def kern_line(node: str, n: int, payload: str) -> str:
    t = when(n)
    return (
        f"{t:%b} {t.day:2d} {t:%H:%M:%S} {node} kernel: [{3000 + n * 7:6d}.{n * 13 % 1000:03d}123]"
        f" audit: type=1400 audit({stamp(n)}): {payload}"
    )


def kern_noise(node: str, n: int) -> list[str]:
    t = when(n)
    head = f"{t:%b} {t.day:2d} {t:%H:%M:%S} {node} kernel: [{3000 + n * 7:6d}.500000]"
    return [
        f"{head} cni0: port 2(veth3a1f{n:04x}) entered forwarding state",
        f"{head} IPv6: ADDRCONF(NETDEV_CHANGE): veth3a1f{n:04x}: link becomes ready",
    ]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def main() -> None:
    story = list(enumerate(payloads()))
    half = len(story) // 2
    node_a, node_b = story[:half], story[half:]
    # auditd, ENRICHED format on node-a (0x1D tail), rotated: audit.log.1 is older
    enriched = [(n, p + '\x1dFSUID="nginx" OUID="root"' if "fsuid=101" in p else p) for n, p in node_a]
    write(OUT / "node-a" / "audit.log.1", audit_log("node-a", enriched[:10]))
    write(OUT / "node-a" / "audit.log", audit_log("node-a", enriched[10:]))
    # kern.log on node-b, rotated and compressed: kern.log.2.gz < kern.log.1 < kern.log
    lines = []
    for n, payload in node_b:
        lines += [*kern_noise("node-b", n), kern_line("node-b", n, payload)]
    third = len(lines) // 3
    (OUT / "node-b").mkdir(parents=True, exist_ok=True)
    (OUT / "node-b" / "kern.log.2.gz").write_bytes(
        gzip.compress(("\n".join(lines[:third]) + "\n").encode(), mtime=0)
    )
    write(OUT / "node-b" / "kern.log.1", "\n".join(lines[third : 2 * third]) + "\n")
    write(OUT / "node-b" / "kern.log", "\n".join(lines[2 * third :]) + "\n")
    # syslog with RFC 3339 timestamps: the same kernel records rsyslog also put in kern.log
    write(
        OUT / "node-b" / "syslog",
        "\n".join(
            f"{when(n).isoformat(timespec='microseconds')} node-b kernel: "
            f"[{3000 + n * 7:6d}.{n * 13 % 1000:03d}123] audit: type=1400 audit({stamp(n)}): {p}"
            for n, p in node_b[:4]
        )
        + "\n",
    )
    # dmesg of a third node with no syslog at all
    write(
        OUT / "node-c" / "dmesg.txt",
        "\n".join(
            f"[{50 + n:5d}.{n * 77 % 1000:03d}000] audit: type=1400 audit({stamp(n)}): {p}"
            for n, p in story[:8]
        )
        + "\n",
    )
    # journald: `journalctl -o json` (audit and kernel copies of each record) and text output
    entries = []
    for n, payload in story[:6]:
        micros = str(int(when(n).timestamp() * 1_000_000))
        serial = stamp(n).rsplit(":", 1)[1]
        entries.append(
            {"_HOSTNAME": "node-d", "_TRANSPORT": "audit", "_AUDIT_TYPE": "1400",
             "_AUDIT_ID": serial, "_SOURCE_REALTIME_TIMESTAMP": micros,
             "__REALTIME_TIMESTAMP": micros, "SYSLOG_IDENTIFIER": "audit",
             "MESSAGE": f"AVC {payload}"}
        )
        entries.append(
            {"_HOSTNAME": "node-d", "_TRANSPORT": "kernel", "__REALTIME_TIMESTAMP": micros,
             "SYSLOG_IDENTIFIER": "kernel", "MESSAGE": f"audit: type=1400 audit({stamp(n)}): {payload}"}
        )
    entries.append(
        {"_HOSTNAME": "node-d", "_TRANSPORT": "syslog", "SYSLOG_IDENTIFIER": "dbus-daemon",
         "__REALTIME_TIMESTAMP": str(START * 1_000_000 + 999), "_PID": "702",
         "MESSAGE": 'apparmor="DENIED" operation="dbus_method_call"  bus="system" '
         'path="/org/freedesktop/systemd1" interface="org.freedesktop.systemd1.Manager" '
         'member="StartUnit" mask="send" name="org.freedesktop.systemd1" pid=4404 '
         'label="aaprof.shop.web.nginx" peer_pid=1 peer_label="unconfined"'}
    )
    write(OUT / "node-d" / "journal.json", "\n".join(json.dumps(e) for e in entries) + "\n")
    write(
        OUT / "node-d" / "journalctl.txt",
        "\n".join(
            f"{when(n):%b %d %H:%M:%S} node-d audit[{4101 + n}]: AVC {p}" for n, p in story[6:12]
        )
        + "\n",
    )


if __name__ == "__main__":
    main()
