"""Reading one large plain file with two processes: this one reads the first half, a forked
child the second (this machine class has two cores; docs/performance.md).

`split_point` says where (or that the file is not worth it), `Child` runs one call in a forked
process and hands its result back, and `write_in_halves` writes what a reader makes of a file
with the child's half written into a temporary file and appended after this process's half, so
the output is what one process would write, in order.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import signal
import tempfile
from collections.abc import Callable
from typing import Any, Final, TextIO

from aaprof.errors import AaprofError
from aaprof.logs.chunks import newlines
from aaprof.logs.sources import COMPRESSED_MAGIC

# A plain file at least this large is read by two processes.
PARALLEL_MIN_BYTES = 32 << 20


def split_point(name: str, share: float = 0.5) -> int | None:
    """Where to cut a large plain file in two, after about `share` of it: the start of a line
    that continues no other; None where one process reads it (small, compressed, standard
    input, one core)."""
    if name == "-" or (os.cpu_count() or 1) < 2:
        return None
    try:
        size = os.stat(name).st_size
        if size < PARALLEL_MIN_BYTES or not os.path.isfile(name):
            return None
        with open(name, "rb") as f:
            if f.read(6).startswith(COMPRESSED_MAGIC):
                return None
            f.seek(int(size * share))
            f.readline()
            while True:
                line = f.readline()
                if not line:
                    return None
                if line[:1] not in {b" ", b"\t"}:
                    return f.tell() - len(line)
    except OSError:
        return None  # the reader will name the problem


def lines_before(name: str, end: int) -> int:
    """How many lines a file holds before byte `end` (a line start)."""
    count = 0
    with open(name, "rb", buffering=0) as f:
        buffer = bytearray(1 << 20)
        view = memoryview(buffer)
        left = end
        while left > 0:
            got = f.readinto(view[: min(left, len(buffer))])
            if not got:
                break
            count += newlines(view, 0, got)
            left -= got
    return count


class ChildDied(AaprofError):
    """The child ended without a result (killed; or what it raised could not be sent)."""


class Child:
    """A forked process computing one call; its result (or exception) comes back pickled.

    A bare fork and a pipe: a process pool's threads and queues cost more than the half of a
    large file they would save us reading.
    """

    def __init__(self, function: Callable[..., object], *args: object) -> None:
        read_end, write_end = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: compute, send, leave without running parent cleanup
            os.close(read_end)
            code = 0
            try:
                outcome: tuple[bool, object] = (True, function(*args))
            except BaseException as exc:  # sent back to be raised in the parent
                outcome, code = (False, exc), 1
            with os.fdopen(write_end, "wb") as pipe:
                pickle.dump(outcome, pipe, protocol=pickle.HIGHEST_PROTOCOL)
            os._exit(code)
        os.close(write_end)
        self.pipe = os.fdopen(read_end, "rb")

    def result(self) -> Any:
        """The call's result, raised if it raised (waits for the child)."""
        ok, value = self.outcome()
        if not ok:
            raise value
        return value

    def outcome(self) -> tuple[bool, Any]:
        """(True, the call's result) or (False, what it raised); waits for the child."""
        try:
            outcome: tuple[bool, Any] = pickle.load(self.pipe)
        except EOFError:
            outcome = (False, ChildDied("a reading process died"))
        finally:
            self.pipe.close()
            os.waitpid(self.pid, 0)
        return outcome

    def cancel(self) -> None:
        """Stop the child (this process failed or was interrupted) and reap it."""
        if self.pipe.closed:
            return
        self.pipe.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


# What writes the text of a file's bytes from `start` to `end` (None: its end) to `out`.
Writer = Callable[[int, "int | None", TextIO], Any]
_NO_SPOOL: Final = "the temporary file failed"


def write_in_halves(write: Writer, split: int, out: TextIO) -> tuple[Any, Any]:
    """`write(0, split, out)` here and `write(split, None, spool)` in a child at the same time,
    then the spool's text appended to `out`: what `write` would give one after the other, in
    order. Returns both results (the second made in the child).

    The child's half waits in a temporary file (`$TMPDIR`), deleted when copied. Where there
    is none, it cannot take the half (a full disk) or the child dies, this process writes that
    half itself.
    """
    try:
        # (closed by the `with` below; opened apart to tell its failure from the others)
        spool = tempfile.TemporaryFile(  # noqa: SIM115
            "w+", encoding=_encoding(out), errors=_errors(out)
        )
    except OSError:
        return write(0, split, out), write(split, None, out)
    with spool:
        child = Child(_spooled, write, split, spool)
        try:
            mine = write(0, split, out)
            ok, theirs = child.outcome()
        except BaseException:
            child.cancel()
            raise
        if (ok and theirs == _NO_SPOOL) or isinstance(theirs, ChildDied):
            return mine, write(split, None, out)  # (what the spool holds is dropped)
        spool.seek(0)  # (the child wrote through the same open file: the offset is shared)
        out.flush()
        buffer = getattr(out, "buffer", None)
        if buffer is not None:  # (the bytes as they are: no decoding and encoding again)
            shutil.copyfileobj(spool.buffer, buffer, 1 << 20)
            buffer.flush()
        else:
            shutil.copyfileobj(spool, out, 1 << 20)
        if not ok:
            raise theirs  # (after what the child wrote before it failed, as one process would)
    return mine, theirs


def _spooled(write: Writer, split: int, spool: TextIO) -> object:
    """The child's half, written into the spool; `_NO_SPOOL` where that failed (the parent
    then writes the half itself)."""
    try:
        try:
            return write(split, None, spool)
        finally:
            spool.flush()
    except OSError:  # (a full disk; whatever else it was, this process meets it again)
        return _NO_SPOOL


def _encoding(out: TextIO) -> str:
    return getattr(out, "encoding", None) or "utf-8"


def _errors(out: TextIO) -> str:
    return getattr(out, "errors", None) or "strict"
