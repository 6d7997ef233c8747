"""/dev/kmsg as a source: one record per read, each with the kernel's sequence number. The one
reader of the kernel's ring buffer: `aaprof watch` follows it (`FollowedKmsg`, a
`logs.live.Source`), `aaprof events /dev/kmsg` reads what it holds now (`drain`).

The checkpoint is the boot id and the last sequence number taken. On start the whole ring
buffer is read and records up to the checkpoint are skipped; a gap in the numbers (the ring
overwrote records before they were read; a read then fails with EPIPE) is counted as lost. An
EPIPE where no number came before (the first records read) or after it (the device closed)
says records were lost without saying how many: it counts as one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aaprof.errors import AaprofError
from aaprof.logs.live import AUDIT_LOST, KMSG_OVERWRITTEN, Losses, Raw
from aaprof.model.event import SourceRef

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
_ESCAPE = re.compile(rb"\\x([0-9a-f]{2})")


def parse_kmsg(record: bytes) -> tuple[int, bytes] | None:
    """(sequence number, message) of one /dev/kmsg record, or None if it is not one.

    A record is `<prio>,<seq>,<usec>,<flags>[,...];<message>` and optional ` KEY=value` lines;
    the kernel writes non-printable bytes of the message as `\\xNN`.
    """
    head, sep, rest = record.partition(b";")
    if not sep:
        return None
    parts = head.split(b",")
    if len(parts) < 4 or not parts[1].isdigit():
        return None
    message = rest.split(b"\n", 1)[0]
    return int(parts[1]), _ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), message)


def boot_id(path: Path = BOOT_ID) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


@dataclass(slots=True)
class FollowedKmsg(Losses):
    """A kmsg device followed by sequence number (see the module's doc)."""

    path: str = "/dev/kmsg"
    boot: str = field(default_factory=boot_id)
    fd: int | None = None
    seq: int | None = None
    number: int = 0  # records of another format given (numbered by their order)
    overwritten: bool = False  # a read failed with EPIPE: the next record's gap is the loss

    @property
    def label(self) -> str:
        return "kmsg"

    @property
    def lost_reasons(self) -> tuple[str, ...]:
        return (KMSG_OVERWRITTEN, AUDIT_LOST)

    def restore(self, checkpoint: dict[str, object] | None) -> None:
        self.close()
        try:
            self.fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise AaprofError(f"{self.path}: cannot read: {exc.strerror}") from None
        self.seq = None
        if checkpoint and checkpoint.get("boot") == self.boot:
            seq = checkpoint.get("seq")
            self.seq = seq if isinstance(seq, int) else None

    def skip_to_end(self) -> None:
        """Start after the ring buffer's last record now."""
        if self.fd is not None:
            os.lseek(self.fd, 0, os.SEEK_END)

    def poll(self, limit: int) -> Sequence[Raw]:
        out: list[Raw] = []
        if self.fd is None:
            return out
        while len(out) < limit:
            try:
                data = os.read(self.fd, 8192)
            except BlockingIOError:
                break
            except BrokenPipeError:  # overwritten: the next read gives the oldest left
                self.overwritten = True
                continue
            except OSError as exc:
                raise AaprofError(f"{self.path}: read failed: {exc.strerror}") from None
            if not data:
                break
            parsed = parse_kmsg(data)
            if parsed is None:  # not a kmsg record (another character device): its text
                self.number += 1
                line = data if data.endswith(b"\n") else data + b"\n"
                out.append(Raw(line, SourceRef(self.label, self.number)))
                continue
            seq, message = parsed
            if self.seq is not None:
                if seq <= self.seq:
                    continue
                if seq > self.seq + 1:
                    self._overwrote(seq - self.seq - 1)
            elif self.overwritten:
                self._overwrote(1)  # before the first record read: how many is not known
            self.overwritten = False
            self.seq = seq
            out.append(Raw(message + b"\n", SourceRef(self.label, seq)))
        return out

    def checkpoint(self) -> dict[str, object]:
        return {"boot": self.boot, "seq": self.seq}

    def _overwrote(self, count: int) -> None:
        self.lost[KMSG_OVERWRITTEN] = self.lost.get(KMSG_OVERWRITTEN, 0) + count

    def close(self) -> None:
        if self.overwritten:  # no record came after it to tell how many
            self._overwrote(1)
            self.overwritten = False
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def drain(path: str) -> tuple[list[bytes], int]:
    """The lines (newline ended) a kmsg device holds now, without waiting for more, and the
    number of records the ring buffer overwrote while they were read (lost)."""
    device = FollowedKmsg(path, boot="")
    device.restore(None)
    lines: list[bytes] = []
    try:
        while True:
            batch = device.poll(4096)
            lines.extend(raw.data for raw in batch if isinstance(raw.data, bytes))
            if len(batch) < 4096:  # (it stopped at the device's end, not at the limit)
                break
    finally:
        device.close()
    return lines, sum(device.take_lost().values())
