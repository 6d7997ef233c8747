"""aa-logprof's engine (Debian's python3-apparmor) driven without a terminal: log in, rules out.

Usage:
    python benchmarks/logprof_engine.py setup PROFILE_DIR LOG   # stub profiles, complain mode
    python benchmarks/logprof_engine.py run PROFILE_DIR LOG     # proposals as JSON on stdout

`setup` writes an empty complain-mode profile for every profile the log names (aa-logprof drops
the events of a profile it has no file for). `run` does what `aa-logprof -d PROFILE_DIR -f LOG`
does up to writing profiles, through the `apparmor` package's own functions: `init_aa` with
Debian's /etc/apparmor/logprof.conf (apparmor-utils), `read_profiles`, the log through
`ReadLog.parse_event` (libapparmor) and `parse_event_for_tree` line by line, then `ask_exec`,
`ask_addhat`, `collapse_log` and `ask_the_questions`. Every rule question gets (A)llow, the first
proposal selected (what a user building a profile from complain-mode logs answers; in 3.0.8
Enter would deny, as `collapse_log` passes `log_event=True`, not the mode that the prompt's
default tests), exec questions (I)nherit, the others their default. The log loop is ours, not
`ReadLog.read_log`, only so that a line the engine fails on is counted instead of ending the run
(read_log raises on the first one). The rules the profiles then hold are printed, per profile
and rule class, with where the log lines went (used, ignored by the engine, rejected, failed).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

CONFDIR = "/etc/apparmor"  # logprof.conf and severity.db, from Debian's apparmor-utils
PROFILE_NAME = re.compile(r' profile=("[^"]*"|[0-9A-F]+)[ \n]')
OPERATION = re.compile(r' operation="([^"]*)"')
# Operations the engine turns into rules (parse_event_for_tree); file/net ones are decided there
# by the record's fields, which `outcome` mirrors.
RULE_OPERATIONS = {"exec", "capable", "change_hat", "change_profile", "ptrace", "signal"}


def profile_names(log: Path) -> set[str]:
    """Every `profile=` of the log's AppArmor records, decoded (the kernel hex-encodes some)."""
    names = set()
    with log.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            match = PROFILE_NAME.search(line)
            if match:
                value = match.group(1)
                quoted = value.startswith('"')
                names.add(value[1:-1] if quoted else bytes.fromhex(value).decode("utf-8"))
    return names


def stub(top: str, children: list[str]) -> str:
    """An empty complain-mode profile (with empty child profiles) in the 3.0 language."""

    def head(name: str) -> str:
        quoted = f'"{name}"' if re.search(r"[\s\"]", name) else name
        return quoted if name.startswith("/") else f"profile {quoted}"

    kids = "".join(f"  {head(c)} flags=(complain) {{\n  }}\n" for c in children)
    return f"{head(top)} flags=(complain) {{\n{kids}}}\n"


def setup(profile_dir: Path, log: Path) -> list[str]:
    """Write a stub for each profile the log names (null-* children and unconfined aside)."""
    tree: dict[str, list[str]] = {}
    for name in sorted(profile_names(log)):
        if name == "unconfined" or "//null-" in name:
            continue
        top, _, child = name.partition("//")
        kids = tree.setdefault(top, [])
        if child:
            kids.append(child.split("//")[0])
    profile_dir.mkdir(parents=True, exist_ok=True)
    for i, (top, kids) in enumerate(sorted(tree.items())):
        (profile_dir / f"p{i:03d}").write_text(stub(top, sorted(set(kids))), encoding="utf-8")
    return sorted(tree)


def answer_by_default() -> None:
    """Replace aa-logprof's prompts: allow each rule (first proposal), inherit on exec."""
    import apparmor.ui as aaui

    def prompt(question: Any, params: str = "") -> tuple[str, int]:
        functions = question.functions
        for answer in ("CMD_ALLOW", "CMD_ix", question.default):
            if answer in functions:
                return answer, question.selected
        return functions[0], question.selected

    aaui.PromptQuestion.promptUser = prompt
    aaui.UI_YesNo = lambda text, default: default
    aaui.UI_GetString = lambda text, default: default
    aaui.UI_Info = aaui.UI_Important = lambda text: None


def outcome(reader: Any, event: dict[str, Any]) -> str:
    """Whether the engine makes a rule of this event or ignores it (its dispatch, restated)."""
    if event["aamode"] in ("AUDIT", "STATUS", "ERROR") or not event.get("profile"):
        return "ignored"
    operation = event["operation"] or ""
    if operation in RULE_OPERATIONS or operation.startswith("dbus_"):
        return "used"
    try:
        kind = reader.op_type(event)
    except Exception:  # the engine raises AppArmorException here: counted as failed by the caller
        return "failed"
    return "used" if kind in ("file", "net") else "ignored"


def read_log(log: Path, reader: Any, lines: Counter[tuple[str, str]]) -> None:
    """Every line through the engine's parser and tree builder; `lines` counts what became of it."""
    from apparmor.common import AppArmorBug, AppArmorException

    prefilter = reader.RE_LOG_ALL
    with log.open(encoding="utf-8", errors="surrogateescape") as text:
        for line in text:
            if not prefilter.search(line):
                continue
            event = reader.parse_event(line)
            if not event:
                match = OPERATION.search(line)
                lines["rejected by libapparmor", match.group(1) if match else "?"] += 1
                continue
            operation = event["operation"] or "?"
            try:
                reader.parse_event_for_tree(event)
            except (AppArmorException, AppArmorBug) as error:
                lines[f"failed: {str(error).splitlines()[0]}", operation] += 1
                continue
            lines[outcome(reader, event), operation] += 1


def proposals(aa: Any) -> dict[str, dict[str, list[str]]]:
    """profile (//child) → rule class → the rules it now holds, as aa-logprof writes them."""
    from apparmor.profile_storage import ruletypes

    found: dict[str, dict[str, list[str]]] = {}
    for profile in sorted(aa.aa):
        for hat in sorted(aa.aa[profile]):
            storage = aa.aa[profile][hat]
            name = profile if hat == profile else f"{profile}//{hat}"
            classes = {"include": sorted(str(r.get_clean()) for r in storage["inc_ie"].rules)}
            for ruletype in ruletypes:
                classes[ruletype] = sorted(str(r.get_clean()) for r in storage[ruletype].rules)
            found[name] = {k: v for k, v in classes.items() if v}
    return found


def run(profile_dir: Path, log: Path) -> dict[str, Any]:
    """The engine on `log` against the profiles in `profile_dir`; what it proposes, and timings."""
    import apparmor.logparser
    import apparmor.severity
    from apparmor import aa

    answer_by_default()
    clock = time.perf_counter()
    aa.init_aa(confdir=CONFDIR, profiledir=str(profile_dir))
    aa.loadincludes()
    aa.read_profiles()
    aa.sev_db = apparmor.severity.Severity(f"{CONFDIR}/severity.db", "unknown")
    seconds = {"setup": time.perf_counter() - clock}
    reader = apparmor.logparser.ReadLog(str(log), aa.active_profiles, aa.profile_dir)
    lines: Counter[tuple[str, str]] = Counter()
    clock = time.perf_counter()
    read_log(log, reader, lines)
    seconds["read log"] = time.perf_counter() - clock
    clock = time.perf_counter()
    aa.ask_exec(reader.hashlog)
    aa.ask_addhat(reader.hashlog)
    log_dict = aa.collapse_log(reader.hashlog)
    seconds["collapse"] = time.perf_counter() - clock
    clock = time.perf_counter()
    aa.ask_the_questions(log_dict)
    seconds["questions"] = time.perf_counter() - clock
    return {
        "seconds": seconds,
        "lines": [[what, op, n] for (what, op), n in sorted(lines.items())],
        "profiles": proposals(aa),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("setup", "run"))
    parser.add_argument("profile_dir", type=Path)
    parser.add_argument("log", type=Path)
    args = parser.parse_args(argv)
    if args.command == "setup":
        names = setup(args.profile_dir, args.log)
        print(f"wrote {len(names)} complain-mode stubs into {args.profile_dir}", file=sys.stderr)
        return 0
    json.dump(run(args.profile_dir, args.log), sys.stdout, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
