"""The non-AppArmor lines of the benchmark's kern.log: kernel messages and other audit records.

Each kind renders the text after rsyslog's `Mon DD HH:MM:SS host`: the tag (`kernel`,
`systemd[1]`, ...) and the message. None contains `apparmor=`; some contain `apparmor`
(apparmor_parser's SYSCALL records, AppArmor's boot messages) so that a filter on the bare word
is caught out the way it would be on a real node.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

COMMS = (
    ("kubelet", "/usr/bin/kubelet"),
    ("containerd", "/usr/bin/containerd"),
    ("runc", "/usr/bin/runc"),
    ("iptables-restor", "/usr/sbin/xtables-nft-multi"),
    ("apparmor_parser", "/usr/sbin/apparmor_parser"),
    ("cron", "/usr/sbin/cron"),
    ("sshd", "/usr/sbin/sshd"),
    ("nginx", "/usr/sbin/nginx"),
)
USER_TYPES = (
    (1101, "USER_ACCT", "PAM:accounting"),
    (1103, "CRED_ACQ", "PAM:setcred"),
    (1104, "CRED_DISP", "PAM:setcred"),
    (1105, "USER_START", "PAM:session_open"),
    (1106, "USER_END", "PAM:session_close"),
)
UNITS = ("containerd", "kubelet", "cron", "systemd-tmpfiles-clean", "logrotate", "man-db")


@dataclass(frozen=True, slots=True)
class NoiseContext:
    """What a noise line may draw on: the generator's random source and the line's time."""

    rng: random.Random
    stamp: str  # audit(<epoch>.<ms>:<serial>)
    uptime: str  # [ 1234.567890]
    serial: int


def hex_id(rng: random.Random, digits: int = 64) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def syscall(c: NoiseContext) -> tuple[str, str]:
    comm, exe = c.rng.choice(COMMS)
    number, success = c.rng.choice(((257, "yes"), (59, "yes"), (42, "no"), (165, "no"), (1, "yes")))
    exit_code = "-13" if success == "no" else str(c.rng.randrange(3, 40))
    pid = c.rng.randrange(300, 4_000_000)
    text = (
        f"{c.uptime} audit: type=1300 {c.stamp}: arch=c000003e syscall={number} success={success} "
        f"exit={exit_code} a0=ffffff9c a1={c.rng.getrandbits(44):x} a2=80000 a3=0 items=1 "
        f"ppid=1 pid={pid} auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 "
        f'fsgid=0 tty=(none) ses=4294967295 comm="{comm}" exe="{exe}" subj=unconfined key=(null)'
    )
    return "kernel", text


def proctitle(c: NoiseContext) -> tuple[str, str]:
    comm, exe = c.rng.choice(COMMS)
    argv = f"{exe}\0--config\0/etc/{comm}/config.yaml".encode().hex().upper()
    return "kernel", f"{c.uptime} audit: type=1327 {c.stamp}: proctitle={argv}"


def user_record(c: NoiseContext) -> tuple[str, str]:
    number, _, op = c.rng.choice(USER_TYPES)
    pid = c.rng.randrange(300, 4_000_000)
    msg = (
        f'op={op} grantors=pam_permit acct="root" exe="/usr/sbin/cron" hostname=? addr=? '
        "terminal=cron res=success"
    )
    return "kernel", (
        f"{c.uptime} audit: type={number} {c.stamp}: pid={pid} uid=0 auid=0 ses={c.serial % 900} "
        f"subj=unconfined msg='{msg}'"
    )


def service_record(c: NoiseContext) -> tuple[str, str]:
    number = c.rng.choice((1130, 1131))
    unit = c.rng.choice(UNITS)
    msg = (
        f'unit={unit} comm="systemd" exe="/usr/lib/systemd/systemd" '
        "hostname=? addr=? terminal=? res=success"
    )
    return "kernel", (
        f"{c.uptime} audit: type={number} {c.stamp}: pid=1 uid=0 auid=4294967295 "
        f"ses=4294967295 subj=unconfined msg='{msg}'"
    )


def netfilter_cfg(c: NoiseContext) -> tuple[str, str]:
    entries = c.rng.randrange(4, 400)
    return "kernel", (
        f"{c.uptime} audit: type=1325 {c.stamp}: table=filter:{c.rng.randrange(2, 60)} family=2 "
        f"entries={entries} op=nft_register_rule pid={c.rng.randrange(300, 99999)} "
        'subj=unconfined comm="iptables-restor"'
    )


def netfilter_log(c: NoiseContext) -> tuple[str, str]:
    r = c.rng
    src = f"10.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"
    mac = ":".join(f"{r.randrange(256):02x}" for _ in range(14))
    return "kernel", (
        f"{c.uptime} [UFW BLOCK] IN=eth0 OUT= MAC={mac} SRC={src} DST=10.0.0.7 LEN=60 TOS=0x00 "
        f"PREC=0x00 TTL=63 ID={r.randrange(65536)} DF PROTO=TCP SPT={r.randrange(1024, 65535)} "
        f"DPT={r.choice((22, 443, 10250, 2379))} WINDOW=64240 RES=0x00 SYN URGP=0"
    )


def veth(c: NoiseContext) -> tuple[str, str]:
    port = hex_id(c.rng, 8)
    text = c.rng.choice(
        (
            f"cni0: port {c.rng.randrange(1, 40)}(veth{port}) entered forwarding state",
            f"cni0: port {c.rng.randrange(1, 40)}(veth{port}) entered disabled state",
            f"device veth{port} entered promiscuous mode",
            f"IPv6: ADDRCONF(NETDEV_CHANGE): veth{port}: link becomes ready",
        )
    )
    return "kernel", f"{c.uptime} {text}"


def systemd(c: NoiseContext) -> tuple[str, str]:
    cid = hex_id(c.rng)
    text = c.rng.choice(
        (
            f"Started cri-containerd-{cid}.scope - libcontainer container {cid}.",
            f"cri-containerd-{cid}.scope: Deactivated successfully.",
            f"run-containerd-runc-k8s.io-{cid}-runc.{hex_id(c.rng, 6)}.mount: "
            "Deactivated successfully.",
            f"var-lib-kubelet-pods-{hex_id(c.rng, 32)}-volumes.mount: Deactivated successfully.",
        )
    )
    return "systemd[1]", text


def usb(c: NoiseContext) -> tuple[str, str]:
    text = c.rng.choice(
        (
            f"usb 1-1: new high-speed USB device number {c.rng.randrange(2, 30)} using xhci_hcd",
            "usb 1-1: New USB device found, idVendor=0781, idProduct=5581, bcdDevice= 1.00",
            "usb-storage 1-1:1.0: USB Mass Storage device detected",
            "usb 1-1: USB disconnect, device number 3",
        )
    )
    return "kernel", f"{c.uptime} {text}"


def misc_kernel(c: NoiseContext) -> tuple[str, str]:
    pid = c.rng.randrange(300, 4_000_000)
    text = c.rng.choice(
        (
            f"kauditd_printk_skb: {c.rng.randrange(2, 90)} callbacks suppressed",
            "TCP: request_sock_TCP: Possible SYN flooding on port 10250. Sending cookies.",
            f"Memory cgroup out of memory: Killed process {pid} (java) "
            "total-vm:8412312kB, anon-rss:2097152kB",
            "EXT4-fs (sda1): re-mounted. Opts: (null). Quota mode: none.",
            "AppArmor: AppArmor sha1 policy hashing enabled",
            f"overlayfs: upperdir is in-use as upperdir/workdir of another mount, pid {pid}",
        )
    )
    return "kernel", f"{c.uptime} {text}"


# (render, weight): SYSCALL and PROCTITLE dominate a node with syscall auditing on.
NOISE_KINDS: tuple[tuple[Callable[[NoiseContext], tuple[str, str]], float], ...] = (
    (syscall, 25),
    (proctitle, 20),
    (user_record, 8),
    (service_record, 7),
    (netfilter_cfg, 5),
    (netfilter_log, 10),
    (veth, 8),
    (systemd, 10),
    (usb, 2),
    (misc_kernel, 5),
)
