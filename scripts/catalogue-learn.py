#!/usr/bin/env python3
"""Learn the catalogue's profiles in the test VM (docs/catalogue.md), so they can be redone.

    .venv/bin/python scripts/catalogue-learn.py [NAME...]      # default: every entry

One boot: each entry's component, installed at its path, runs under its profile loaded empty in
complain mode through the `learn` workload (tests/vm/catalogue_guest/NAME_workload.py). Then, on
the host, `aaprof generate` turns the kernel's log into each profile (`--mode enforce`, the
entry's decisions file aaprof/catalogue/decisions/NAME.yaml replayed; every choice, defaults
included, is written to the work directory's NAME/decisions.yaml), and the profile, its
provenance header first, is written to aaprof/catalogue/profiles/NAME. `--keep DIR` keeps the
boot's dmesg and generate's output.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from vm import catalogue_loop  # noqa: E402
from vm.harness import VMResult, build_images, run_workload  # noqa: E402

from aaprof import __version__, catalogue  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="entries to learn (default: all)")
    parser.add_argument("--keep", type=Path, help="keep the dmesg and generate's output here")
    args = parser.parse_args()
    entries = tuple(catalogue.entry(n) for n in args.names) or catalogue.ENTRIES
    images = build_images(REPO / ".cache" / "vm")
    policy = {"empty": catalogue_loop.empty_policy(entries).encode()}
    result = run_workload(images, catalogue_loop.workload(entries, policy, "learn"))
    result.check()
    print(f"learning boot: {result.seconds:.0f} s", file=sys.stderr)
    work = args.keep or Path(tempfile.mkdtemp(prefix="aaprof-catalogue-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "dmesg").write_bytes(result.dmesg)
    for e in entries:
        _learn(e, result, work)


def _learn(e: catalogue.Entry, result: VMResult, work: Path) -> None:
    decisions = catalogue.decisions_path(e.name)
    out = work / e.name
    shutil.rmtree(out, ignore_errors=True)  # generate merges into what DIR holds: learn afresh
    cmd = [
        sys.executable, "-m", "aaprof", "generate", str(work / "dmesg"), "--out", str(out),
        "--mode", "enforce", "--no-k8s", "--profile", e.profile_name,
        "--write-decisions", str(out / "decisions.yaml"),
    ]  # fmt: skip
    if decisions.exists():
        cmd += ["--decisions", str(decisions)]
    subprocess.run(cmd, check=True, cwd=REPO)
    (generated,) = [p for p in (out / "profiles").iterdir() if p.is_file()]
    found = catalogue_loop.version(result, e)
    if found is None:
        sys.exit(f"{e.name}: no version in `{e.attach} --version`")
    values = {
        "entry": e.name,
        "component": e.component,
        "version": found,
        "source": e.source,
        "runs": e.runs if e.image is None else f"{e.runs} (image {e.image})",
        "attach": e.attach if e.runs == catalogue.HOST else e.profile_name,
        "workload": e.workload,
        "aaprof": f"{__version__} generate --mode enforce, learnt in the test VM "
        "(scripts/catalogue-learn.py)",
        "decisions": f"aaprof/catalogue/decisions/{e.name}.yaml",
    }
    text = catalogue.header(values) + generated.read_text()
    dest = catalogue.profile_path(e.name)
    dest.write_text(text)
    print(f"{dest.relative_to(REPO)}: {len(text.splitlines())} lines", file=sys.stderr)


if __name__ == "__main__":
    main()
