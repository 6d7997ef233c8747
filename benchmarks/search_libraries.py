"""The record marks' positions in 1 MiB chunks: _bytescan's memmem against google-re2 and
hyperscan (issue 24: a well-kept library replaces a home-made search that it equals in speed).

Usage: .venv/bin/pip install google-re2 hyperscan
       .venv/bin/python benchmarks/search_libraries.py LOG
(neither is a dependency of aaprof: docs/performance.md has what this measured)
"""

from __future__ import annotations

import re
import resource
import sys
from collections.abc import Callable

import hyperscan  # type: ignore[import-not-found, import-untyped, unused-ignore]
import re2  # type: ignore[import-not-found, import-untyped, unused-ignore]

from aaprof.logs import _bytescan

MARKS = (b"apparmor=", b"type=APPARMOR", b"type=150", b"UNKNOWN[150")
CHUNK = 1 << 20


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    data = open(sys.argv[1], "rb").read()[: 64 << 20]  # noqa: SIM115
    chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    pattern = re2.compile(b"|".join(re.escape(m) for m in MARKS))
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(
        expressions=[re.escape(m) for m in MARKS],
        ids=list(range(len(MARKS))),
        flags=[hyperscan.HS_FLAG_SOM_LEFTMOST] * len(MARKS),
    )

    def ours(chunk: bytes) -> list[int]:
        found: list[int] = _bytescan.positions(chunk, MARKS, 0, len(chunk))
        return found

    def with_re2(chunk: bytes) -> list[int]:
        return [m.start() for m in pattern.finditer(chunk)]

    def with_hyperscan(chunk: bytes) -> list[int]:
        found: list[int] = []
        database.scan(chunk, match_event_handler=lambda i, s, e, f, c: found.append(s))
        return sorted(found)

    searches: dict[str, Callable[[bytes], list[int]]] = {
        "_bytescan": ours,
        "google-re2": with_re2,
        "hyperscan": with_hyperscan,
    }
    for name, search in searches.items():
        start = cpu()
        hits = sum(len(search(c)) for c in chunks)
        per_100mb = (cpu() - start) * 1000 / (len(data) / 1e8)
        same = all(search(c) == ours(c) for c in chunks)
        print(f"{name:10s} {hits} hits, {per_100mb:.1f} ms CPU per 100 MB, same as ours: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
