"""The words the policy language knows: capabilities, signals, flags, mount options, families.

Written from the kernel's and AppArmor's documented vocabulary (apparmor.d(5), capabilities(7),
signal(7), getrlimit(2)); `check.py` reports a word not listed here.
"""

from __future__ import annotations

import errno


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


CAPABILITIES = _words(
    """chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap
    linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner
    sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice
    sys_resource sys_time sys_tty_config mknod lease audit_write audit_control setfcap
    mac_override mac_admin syslog wake_alarm block_suspend audit_read perfmon bpf
    checkpoint_restore"""
)

SIGNALS = _words(
    """hup int quit ill trap abrt bus fpe kill usr1 segv usr2 pipe alrm term stkflt chld
    cont stop stp ttin ttou urg xcpu xfsz vtalrm prof winch io pwr sys emt exists"""
) | frozenset(f"rtmin+{n}" for n in range(33))

RLIMITS = _words(
    """cpu fsize data stack core rss nproc nofile ofile memlock as locks sigpending msgqueue
    nice rtprio rttime"""
)

NETWORK_DOMAINS = _words(
    """unspec unix inet ax25 ipx appletalk netrom bridge atmpvc x25 inet6 rose netbeui security key
    netlink packet ash econet atmsvc rds sna irda pppox wanpipe llc ib mpls can tipc bluetooth
    iucv rxrpc isdn phonet ieee802154 caif alg nfc vsock kcm qipcrtr smc xdp mctp"""
)
NETWORK_TYPES = _words("stream dgram seqpacket rdm raw packet")
NETWORK_PROTOCOLS = _words("tcp udp icmp")
INET_DOMAINS = frozenset({"inet", "inet6"})

# access words per rule kind (the short forms r, w, rw included where the rule takes them)
_RW = {"r", "w", "rw", "read", "write"}
NETWORK_ACCESS = frozenset(
    _RW
    | _words(
        """create accept bind connect listen send receive getattr setattr getopt setopt
        shutdown"""
    )
)
UNIX_ACCESS = NETWORK_ACCESS
# accesses that act on the socket itself: a rule giving only these cannot name a peer
LOCAL_SOCKET_ACCESS = _words("create bind listen shutdown getattr setattr getopt setopt")
SIGNAL_ACCESS = frozenset(_RW | {"send", "receive"})
PTRACE_ACCESS = frozenset(_RW | {"trace", "readby", "tracedby"})
DBUS_ACCESS = frozenset(_RW | {"send", "receive", "bind", "eavesdrop"})
USERNS_ACCESS = frozenset({"create"})
IO_URING_ACCESS = frozenset({"sqpoll", "override_creds"})
MQUEUE_ACCESS = frozenset(_RW | _words("wr create open delete getattr setattr"))

# Profile flags. Modes exclude each other; each pair below excludes the other.
MODE_FLAGS = _words("enforce complain kill unconfined prompt default_allow")
FLAGS = MODE_FLAGS | _words(
    """audit chroot_relative namespace_relative mediate_deleted delegate_deleted
    attach_disconnected no_attach_disconnected chroot_attach chroot_no_attach interruptible
    debug attach_disconnected.ipc"""
)
FLAG_CONFLICTS = (
    ("chroot_relative", "namespace_relative"),
    ("mediate_deleted", "delegate_deleted"),
    ("attach_disconnected", "no_attach_disconnected"),
    ("chroot_attach", "chroot_no_attach"),
)
VALUE_FLAGS = frozenset(
    {"kill.signal", "error", "attach_disconnected.path", "attach_disconnected.ipc"}
)
ERRNO_NAMES = frozenset(errno.errorcode.values())

# mount options=(...); propagation changes take a mountpoint but no source
MOUNT_PROPAGATION = frozenset(
    f"{prefix}{kind}"
    for kind in ("unbindable", "private", "slave", "shared")
    for prefix in ("", "r", "make-", "make-r")
)
MOUNT_OPTIONS = MOUNT_PROPAGATION | _words(
    """ro rw r w suid nosuid dev nodev exec noexec sync async mand nomand dirsync symfollow
    nosymfollow atime noatime diratime nodiratime bind B move M rbind R verbose silent loud
    acl noacl relatime norelatime iversion noiversion strictatime nostrictatime lazytime
    nolazytime user nouser remount read-only read-write"""
)
MOUNT_CONFLICTS = (
    ("ro", "rw"),
    ("r", "w"),
    ("suid", "nosuid"),
    ("dev", "nodev"),
    ("exec", "noexec"),
    ("sync", "async"),
    ("mand", "nomand"),
    ("symfollow", "nosymfollow"),
    ("atime", "noatime"),
    ("diratime", "nodiratime"),
    ("acl", "noacl"),
    ("relatime", "norelatime"),
    ("iversion", "noiversion"),
    ("strictatime", "nostrictatime"),
    ("lazytime", "nolazytime"),
    ("user", "nouser"),
)

# conditions each rule kind takes (peer=(...) apart)
RULE_CONDS = {
    "network": frozenset({"ip", "port", "interface", "label"}),
    "unix": frozenset({"type", "protocol", "addr", "label", "attr", "opt"}),
    "dbus": frozenset({"bus", "path", "interface", "member", "name"}),
    "io_uring": frozenset({"label"}),
    "mqueue": frozenset({"type", "label"}),
    "mount": frozenset({"fstype", "vfstype", "options", "option"}),
}
PEER_CONDS = {
    "network": frozenset({"ip", "port", "label"}),
    "unix": frozenset({"addr", "label"}),
    "dbus": frozenset({"name", "label"}),
}
BUILTIN_VARIABLES = frozenset({"profile_name", "exec_path", "attach_path"})
