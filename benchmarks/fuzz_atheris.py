"""atheris fuzz harness for `aaprof.logs.parse_line`: any bytes in, a result out, never a raise.

Usage (see docs/fuzzing.md; atheris is optional: `.venv/bin/pip install atheris`):
    python benchmarks/fuzz_atheris.py --seed-corpus DIR        # one file per real log line
    python benchmarks/fuzz_atheris.py -atheris_runs=200000 DIR # fuzz, growing DIR

Every other argument goes to libFuzzer (`-max_len=`, `-jobs=`, `-help=1`, ...).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_CORPUS = REPO.parent / "shared" / "corpus"


def seed_lines(corpus: Path) -> list[bytes]:
    """Every line of the shared corpus's real logs (wild/lines.txt and libapparmor's *.in)."""
    files = [
        corpus / "wild" / "lines.txt",
        *sorted((corpus / "libapparmor-test_multi").glob("*.in")),
    ]
    lines = [line for f in files if f.exists() for line in f.read_bytes().splitlines()]
    return [line for line in lines if line.strip()]


def write_seed_corpus(outdir: Path, corpus: Path = SHARED_CORPUS) -> int:
    """One file per distinct line, named by its hash; the number of lines written."""
    lines = set(seed_lines(corpus))
    if not lines:
        sys.exit(f"no log lines found under {corpus}: expected wild/ and libapparmor-test_multi/")
    outdir.mkdir(parents=True, exist_ok=True)
    for line in lines:
        (outdir / hashlib.sha1(line).hexdigest()).write_bytes(line)
    return len(lines)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--seed-corpus":
        count = write_seed_corpus(Path(sys.argv[2]))
        print(f"wrote {count} seed inputs into {sys.argv[2]}", file=sys.stderr)
        return
    try:
        import atheris
    except ImportError:
        sys.exit("atheris is not installed: .venv/bin/pip install atheris (see docs/fuzzing.md)")

    with atheris.instrument_imports():
        from aaprof.logs import Unparsed, parse_line
        from aaprof.model.event import Event

    def test_one_input(data: bytes) -> None:
        result = parse_line(data)  # documented: never raises
        assert result is None or isinstance(result, Event | Unparsed), type(result)
        # bytes and their lossless text form must read the same
        assert parse_line(data.decode("utf-8", "surrogateescape")) == result

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
