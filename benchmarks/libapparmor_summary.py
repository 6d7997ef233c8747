"""The benchmark's reference: the `aaprof events --summary` counts, computed with libapparmor.

Usage (any interpreter that sees Debian's python3-libapparmor, e.g. the project's .venv):
    python benchmarks/libapparmor_summary.py [--prefilter] FILE...

Every line goes to `LibAppArmor.parse_record` and every record is freed with `free_record`, the
way a program built on the binding reads a log. The result is the summary `aaprof events
--summary` prints: records per (profile, class, mode) and the most frequent names of each. Debian
12's libapparmor 3.0.8 has no class field (and rejects records with `class=`), so the class is
derived from the operation and the fields present, as aaprof does for records without `class=`.
`--prefilter` first skips lines without `apparmor=`, as apparmor-utils' logparser does with its
regular expression; the runner reports it as its own row, its ratios are against the plain loop.
`--every-field` is the reference of `aaprof events --format jsonl`: every field of every record
read into a dict and written as a JSON line (`--mode denied`: DENIED records only). A gzip file
is read decompressed (a rotated set's `.gz` members).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Iterable
from typing import Any

try:
    import LibAppArmor
except ImportError:  # the message the runner shows; the test says the same
    sys.exit(
        "LibAppArmor is not importable: "
        "apt-get install python3-libapparmor (./dev.sh test installs it)"
    )

MODES = {
    LibAppArmor.AA_RECORD_ERROR: "ERROR",
    LibAppArmor.AA_RECORD_AUDIT: "AUDIT",
    LibAppArmor.AA_RECORD_ALLOWED: "ALLOWED",
    LibAppArmor.AA_RECORD_DENIED: "DENIED",
    LibAppArmor.AA_RECORD_HINT: "HINT",
    LibAppArmor.AA_RECORD_STATUS: "STATUS",
}
INVALID = LibAppArmor.AA_RECORD_INVALID

# Operations whose class is not file or net (the kernel's aa_class_names).
CLASS_OF_OPERATION = {
    "capable": "cap",
    "signal": "signal",
    "ptrace": "ptrace",
    "mount": "mount",
    "remount": "mount",
    "umount": "mount",
    "pivotroot": "mount",
    "change_profile": "domain",
    "change_onexec": "domain",
    "change_hat": "domain",
    "userns_create": "namespace",
    "uring_sqpoll": "io_uring",
    "uring_override": "io_uring",
    "profile_load": "policy",
    "profile_replace": "policy",
    "profile_remove": "policy",
}
TOP_NAMES = 5

Key = tuple[str, str, str]  # (profile, class, mode)


def class_of(record: Any, operation: str) -> str:
    """The class of a record without `class=`: from its operation, then its fields."""
    cls = CLASS_OF_OPERATION.get(operation)
    if cls is not None:
        return cls
    if operation.startswith("dbus"):
        return "dbus"
    if record.net_family or record.net_sock_type:
        return "net"
    if record.requested_mask or record.denied_mask or record.name:
        return "file"
    return ""


class Summary:
    """Counts per key and per (key, name); a plain loop over dicts, nothing clever."""

    def __init__(self) -> None:
        self.counts: dict[Key, int] = {}
        self.names: dict[Key, dict[str, int]] = {}
        self.rejected = 0  # lines with apparmor= that libapparmor could not parse

    def add(self, record: Any, mode: str) -> None:
        operation = record.operation or ""
        key = (record.profile or "", class_of(record, operation), mode)
        counts = self.counts
        if key in counts:
            counts[key] += 1
        else:
            counts[key] = 1
            self.names[key] = {}
        name = record.name
        if name is not None:
            names = self.names[key]
            names[name] = names.get(name, 0) + 1

    def render(self) -> str:
        """One tab-separated line per key, most records first, with its top names; then totals."""
        rows = []
        for key, n in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0])):
            top = sorted(self.names[key].items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_NAMES]
            names = " ".join(f"{name}={count}" for name, count in top)
            rows.append("\t".join((str(n), *key, names)))
        rows.append(f"# records\t{sum(self.counts.values())}")
        rows.append(f"# rejected lines with apparmor=\t{self.rejected}")
        return "\n".join(rows) + "\n"


def summarize(lines: Iterable[str], summary: Summary, prefilter: bool) -> None:
    """Parse every line with libapparmor and add its record, if any, to `summary`."""
    parse, free, modes, add = LibAppArmor.parse_record, LibAppArmor.free_record, MODES, summary.add
    for line in lines:
        if prefilter and "apparmor=" not in line:
            continue
        try:
            record = parse(line)
        except TypeError:  # not encodable as UTF-8 (surrogate-escaped bytes): SWIG refuses it
            summary.rejected += "apparmor=" in line
            continue
        event = record.event
        if event == INVALID:
            summary.rejected += "apparmor=" in line
        else:
            add(record, modes.get(event, "?"))
        free(record)


# Every field a record has (libapparmor 3.0.8's aa_log_record), as the binding names them.
FIELDS = (
    *("audit_id", "audit_sub_id", "epoch", "operation", "profile", "peer_profile", "comm"),
    *("name", "name2", "namespace", "attribute", "parent", "magic_token", "info", "peer_info"),
    *("pid", "peer_pid", "task", "active_hat", "requested_mask", "denied_mask", "fsuid", "ouid"),
    *("net_family", "net_sock_type", "net_protocol", "net_local_addr", "net_local_port"),
    *("net_foreign_addr", "net_foreign_port", "dbus_bus", "dbus_path", "dbus_interface"),
    *("dbus_member", "signal", "peer", "fs_type", "flags", "src_name", "error_code"),
)


def every_field(lines: Iterable[str], out: Any, denied_only: bool) -> int:
    """Write each record's every non-empty field as a JSON line; return the rejected count."""
    parse, free, modes = LibAppArmor.parse_record, LibAppArmor.free_record, MODES
    dumps, rejected = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode, 0
    for line in lines:
        try:
            record = parse(line)
        except TypeError:
            rejected += "apparmor=" in line
            continue
        event = record.event
        if event == INVALID:
            rejected += "apparmor=" in line
        elif not denied_only or event == LibAppArmor.AA_RECORD_DENIED:
            doc: dict[str, object] = {"mode": modes.get(event, "?")}
            for name in FIELDS:
                value = getattr(record, name)
                if value:
                    doc[name] = value
            out.write(dumps(doc) + "\n")
        free(record)
    return rejected


def open_text(path: str) -> Any:
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    if gz:
        return gzip.open(path, "rt", encoding="utf-8", errors="surrogateescape")
    return open(path, encoding="utf-8", errors="surrogateescape")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--prefilter", action="store_true", help="skip lines without apparmor=")
    parser.add_argument("--every-field", action="store_true", help="JSON lines of every field")
    parser.add_argument("--mode", choices=("all", "denied"), default="all")
    args = parser.parse_args(argv)
    summary = Summary()
    for path in args.files:
        with open_text(path) as lines:
            if args.every_field:
                summary.rejected += every_field(lines, sys.stdout, args.mode == "denied")
            else:
                summarize(lines, summary, args.prefilter)
    if args.every_field:
        print(f"rejected lines with apparmor=\t{summary.rejected}", file=sys.stderr)
    else:
        sys.stdout.write(summary.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
