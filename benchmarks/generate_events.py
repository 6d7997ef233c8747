"""Deterministic audit.log for the `aaprof generate` benchmark: complain mode, a few profiles.

Usage:
    python benchmarks/generate_events.py [OUTDIR] [--records N] [--seed S] [--distinct D]

Writes OUTDIR/audit.log (default benchmarks/data/generate/): N `type=AVC` AppArmor records,
about 10k distinct accesses over the eight profiles of PROFILES, all in complain mode (ALLOWED)
but for the STATUS records of profile loads. It reuses generate.py's access shapes, Zipf-like
weights and writer, so the records have the same layout (Debian 12's 6.1 kernel: no `class=`),
which Debian 12's libapparmor, and so aa-logprof, reads. Same seed, same bytes.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from generate import (
    APPS,
    Access,
    Profile,
    make_accesses,
    quote,
    record_bodies,
    write_audit_log,
)
from realism import CLEAN, MIXES, Realism

DEFAULT_RECORDS = 1_000_000
DEFAULT_OUTDIR = Path(__file__).resolve().parent / "data" / "generate"
DEFAULT_SEED = 20241125
DEFAULT_DISTINCT = 11_500  # accesses drawn: about 10k distinct, once repeats and DENIED are out
# One profile per app of generate.APPS[:8], in that order (make_accesses draws by index):
# Kubernetes-style names, two attached to a path, one with a space (the kernel writes it in hex).
PROFILES = (
    "k8s-nginx",
    "/usr/sbin/redis-server",
    "k8s-postgres",
    "k8s-envoy",
    "/usr/bin/coredns",
    "etcd",
    "k8s-prometheus",
    "grafana server",
)


def make_profiles(rng: random.Random) -> list[Profile]:
    """The PROFILES, in complain mode, four processes each."""
    profiles = []
    for app, name in zip(APPS, PROFILES, strict=False):
        procs = tuple((rng.randrange(300, 4_000_000), app[:15]) for _ in range(4))
        profiles.append(Profile(quote(name), "ALLOWED", procs, app))
    return profiles


def complain_accesses(rng: random.Random, profiles: list[Profile], distinct: int) -> list[Access]:
    """generate.py's accesses without its DENIED ones (change_onexec from unconfined)."""
    accesses = make_accesses(rng, profiles, distinct, with_class=False)
    return [a for a in accesses if 'apparmor="DENIED"' not in a.head]


def generate(
    outdir: Path,
    records: int,
    seed: int,
    distinct: int = DEFAULT_DISTINCT,
    shape: Realism = CLEAN,
) -> Path:
    """Write `outdir/audit.log` with `records` records; return its path.

    `shape`: how auditd writes them down (realism.py); its profile count is not used.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    profiles = make_profiles(rng)
    accesses = complain_accesses(rng, profiles, distinct)
    rng.seed(seed + 1)
    path = outdir / "audit.log"
    write_audit_log(path, rng, record_bodies(rng, accesses, profiles, records, shape), shape)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", nargs="?", type=Path, default=DEFAULT_OUTDIR)
    parser.add_argument("--records", type=int, default=DEFAULT_RECORDS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--distinct", type=int, default=DEFAULT_DISTINCT, help="accesses drawn (about 10k distinct)"
    )
    parser.add_argument(
        "--mix",
        choices=sorted(MIXES),
        default="clean",
        help="clean: AVC records only (the default); realistic: as auditd writes them (realism.py)",
    )
    args = parser.parse_args(argv)
    if args.records <= 0:
        parser.error("--records must be positive")
    # dbus-daemon's records are not the profiles'; names that never repeat would take the log
    # past the about 10k distinct accesses this benchmark is about
    shape = MIXES[args.mix].but(dbus=0.0, unique_names=0.0)
    path = generate(args.outdir, args.records, args.seed, args.distinct, shape)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
