"""What runs inside the guest: /init, its helper commands and the /etc files it needs."""

from __future__ import annotations

DIRECTORIES = (
    "/proc", "/sys", "/dev", "/tmp", "/run", "/out", "/opt/python",
    "/var/log/audit", "/var/run", "/etc/apparmor.d", "/root", "/home/user",
)  # fmt: skip

# Disks are found by their virtio serial, not their order: aaprof-in (ext4, read-only: the run's
# steps, files and aaprof's source), aaprof-out (raw: /out is written to it as a tar) and
# aaprof-python (ext4, read-only: the cached Python runtime).
INIT = r"""#!/bin/sh
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t securityfs securityfs /sys/kernel/security
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# kernel messages stay in dmesg, off the console the host parses
dmesg -n 1
# printk drops audit records beyond 10 per 5 s by default (kauditd prints them through
# printk_ratelimit() when no auditd listens); /dev/kmsg: printk.devkmsg=on on the command line
echo 0 > /proc/sys/kernel/printk_ratelimit
echo 1000000 > /proc/sys/kernel/printk_ratelimit_burst
for m in $(cat /lib/modules/order); do
    insmod /lib/modules/$m || echo "aaprof-vm: insmod $m failed"
done
disk() {
    for d in /sys/block/vd*; do
        dev=/dev/${d##*/}
        [ "$(cat $d/serial 2>/dev/null)" = "$1" ] && [ -b $dev ] && echo $dev && return
    done
}
# the disks appear when the virtio driver has probed them: slow under a busy host's emulation
for serial in aaprof-in aaprof-out aaprof-python; do
    i=0
    while [ -z "$(disk $serial)" ] && [ $i -lt 2400 ]; do usleep 50000; i=$((i+1)); done
    [ -n "$(disk $serial)" ] || echo "aaprof-vm: disk $serial not found after $i tries"
done
mkdir -p /run/in
mount -t ext4 -o ro "$(disk aaprof-in)" /run/in || echo "aaprof-vm: no input disk"
py=$(disk aaprof-python)
[ -n "$py" ] && mount -t ext4 -o ro "$py" /opt/python
echo "aaprof-vm: ready"
sh /run/in/run.sh
echo "aaprof-vm: collecting"
tar -cf "$(disk aaprof-out)" -C /out .
sync
echo "aaprof-vm: done"
poweroff -f
"""

# Runs the steps the host wrote to /run/in/steps/NNN.sh, one after another, each with a time
# limit; marks each step's start and end in the kernel log so records can be told apart by step.
#
# The kernel does not write an AppArmor record in the syscall that caused it: the record is
# queued and the kauditd thread prints it (or hands it to auditd) later. So each marker is also
# an audit USER record (`auditctl -m`), which goes through the same FIFO queue as the records;
# after a step, the run waits until its end marker is in the log the records go to (dmesg, or
# audit.log with auditd). Every record a step caused is then in the log before the next step
# begins (and before the final dmesg), whatever the machine's load. A marker that never arrives
# is written to NNN.flush and fails the run on the host. (`auditctl -m` writes a USYS_CONFIG
# record, type 1005, `msg='text=... exe=...'`.)
RUN = r"""#!/bin/sh
mkdir -p /out/steps /out/files
export OUT=/out/files IN=/run/in
if [ -f /run/in/auditd ]; then
    mkdir -p /var/log/audit
    auditd -s nochange && echo "aaprof-vm: auditd started"
    i=0
    while [ ! -s /var/log/audit/audit.log ] && [ $i -lt 1200 ]; do usleep 50000; i=$((i+1)); done
fi
logged() {  # $1: text: whether the `auditctl -m` record (msg='text=...') reached the log
    if [ -f /run/in/auditd ]; then
        grep -qF "msg='text=$1 " /var/log/audit/audit.log
    else
        dmesg -s 16777216 | grep -qF "msg='text=$1 "
    fi
}
flush() {  # $1: step number: write its end marker through the audit queue, wait for it
    auditctl -m "aaprof-step $1 end" > /dev/null 2>&1 || { echo "auditctl -m failed"; return; }
    i=0
    while ! logged "aaprof-step $1 end"; do
        [ $i -ge 2400 ] && { echo "end marker not in the log after $i tries"; return; }
        usleep 50000; i=$((i+1))
    done
    echo ok
}
[ -d /run/in/files ] && cp -a /run/in/files/. /tmp/
for s in /run/in/steps/*.sh; do
    n=${s##*/}; n=${n%.sh}
    limit=$(cat /run/in/steps/$n.timeout)
    echo "aaprof-vm: step $n begin"
    echo "aaprof-step $n begin" > /dev/kmsg
    auditctl -m "aaprof-step $n begin" > /dev/null 2>&1
    (cd /tmp && timeout -s KILL "$limit" sh "$s" > /out/steps/$n.log 2>&1 < /dev/null)
    rc=$?
    echo "$rc" > /out/steps/$n.rc
    flush $n > /out/steps/$n.flush
    echo "aaprof-step $n end rc=$rc" > /dev/kmsg
    echo "aaprof-vm: step $n rc=$rc"
done
auditctl -s > /out/audit-status 2>&1
if [ -f /run/in/auditd ]; then
    kill $(pidof auditd)
    i=0; while pidof auditd > /dev/null && [ $i -lt 1200 ]; do usleep 50000; i=$((i+1)); done
    cp /var/log/audit/audit.log /out/audit.log
fi
dmesg -s 16777216 > /out/dmesg
"""

# aa-exec's job: run a command under a named profile (change_onexec), no upstream tool needed.
AAEXEC = r"""#!/bin/sh
# usage: aaexec PROFILE COMMAND [ARG...]
p=$1; shift
c=$1; shift
# busybox sh runs its own applets in-process ("standalone shell"): a name with a slash is
# really exec'd, so the new profile applies
case $c in
    */*) ;;
    *) for d in $(echo "$PATH" | tr : ' '); do [ -x "$d/$c" ] && c=$d/$c && break; done ;;
esac
printf 'exec %s' "$p" > /proc/self/attr/exec || exit 126
exec "$c" "$@"
"""

PYTHON = r"""#!/bin/sh
# The host's Python, from the aaprof-python disk, with aaprof from the run's input disk.
export LD_LIBRARY_PATH=/opt/python/lib PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH=/run/in/src:/opt/python/usr/lib/python3.11/site-packages
exec /opt/python/usr/bin/python3.11 "$@"
"""

AAPROF = r"""#!/bin/sh
exec python3 -m aaprof "$@"
"""

AUDITD_CONF = """\
local_events = yes
write_logs = yes
log_file = /var/log/audit/audit.log
log_format = ENRICHED
flush = INCREMENTAL_ASYNC
freq = 20
max_log_file = 64
num_logs = 2
max_log_file_action = IGNORE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
use_libwrap = no
name_format = NONE
q_depth = 4000
overflow_action = IGNORE
"""

ETC_FILES = {
    "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
    "/etc/group": "root:x:0:\nadm:x:4:\nuser:x:1000:\n",
    "/etc/audit/auditd.conf": AUDITD_CONF,
    "/usr/local/bin/aaexec": AAEXEC,
    "/usr/local/bin/python3": PYTHON,
    "/usr/local/bin/aaprof": AAPROF,
}
EXECUTABLES = ("/usr/local/bin/aaexec", "/usr/local/bin/python3", "/usr/local/bin/aaprof")
