"""`aaprof profile`: check, format, show, explain, diff and merge AppArmor profiles."""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path

import click

from aaprof.errors import AaprofError

PROFILE_DIR = "/etc/apparmor.d"
base_option = click.option(
    "--base",
    type=click.Path(file_okay=False, path_type=Path),
    default=PROFILE_DIR,
    show_default=True,
    help="Profile directory that `include <…>` and `abi <…>` resolve against.",
)


MAX_FILE_SIZE = 64 * 1024 * 1024  # includes.DEFAULT_MAX_BYTES (not imported: --help stays light)
max_file_size_option = click.option(
    "--max-file-size",
    type=click.IntRange(min=1),
    default=MAX_FILE_SIZE,
    show_default=True,
    metavar="BYTES",
    help="Read no profile or included file larger than this.",
)


@click.group()
def profile() -> None:
    """Read, check and write AppArmor profiles (docs/profile.md)."""


@profile.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@base_option
@click.option("--no-compile", is_flag=True, help="Only aaprof's own checks.")
@click.option(
    "--fragment/--standalone",
    default=None,
    help="Check as a file meant to be included (rules may stand outside a profile), or as a"
    " file loaded on its own. Default: a fragment when under --base's abstractions/, tunables/"
    " or local/.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Problems and verdicts for people, or a JSON list (one object per file) for programs.",
)
@max_file_size_option
def check(
    files: tuple[Path, ...],
    base: Path,
    no_compile: bool,
    fragment: bool | None,
    fmt: str,
    max_file_size: int,
) -> None:
    """Check profiles with aaprof's own checks and, where installed, `apparmor_parser -Q -K`.

    Each problem aaprof finds is printed as FILE:LINE:COL: REASON, each warning (a rule its
    file's abi leaves unmediated, `network` relied on for unix sockets, a peer a stacked label
    defeats) as FILE:LINE:COL:
    warning: REASON; then both verdicts per file. Exit 1 if either rejects a file (warnings
    do not).
    """
    from aaprof.profiles.verdicts import check_file

    results = [
        check_file(
            path, base, compile_too=not no_compile, fragment=fragment, max_bytes=max_file_size
        )
        for path in files
    ]
    if fmt == "json":
        click.echo(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        for r in results:
            for problem in r.problems:
                click.echo(str(problem))
            for warning in r.warnings:
                where = f"{warning.filename}:{warning.line}:{warning.col}"
                click.echo(f"{where}: warning: {warning.reason}")
            ours = "ok" if r.ours_ok else f"{len(r.problems) or 1} problem(s)"
            click.echo(f"{r.path}: aaprof {ours}; apparmor_parser {r.theirs}")
    if any(not r.ok for r in results):
        raise SystemExit(1)


@profile.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--check", "check_only", is_flag=True, help="Change nothing; exit 1 if any would.")
@click.option("--diff", "show_diff", is_flag=True, help="Print what would change.")
def fmt(files: tuple[str, ...], check_only: bool, show_diff: bool) -> None:
    """Rewrite profiles in aaprof's canonical form (in place, atomically; `-`: stdin → stdout)."""
    from aaprof.profiles.compare import read_policy, write_atomically
    from aaprof.profiles.includes import read_policy_text
    from aaprof.profiles.render import render_policy

    changed = []
    for name in files:
        policy = read_policy(name)
        text = render_policy(policy)
        if name == "-":
            sys.stdout.write(text)
            continue
        original = read_policy_text(Path(name))
        if text == original:
            continue
        changed.append(name)
        if show_diff:
            diff = difflib.unified_diff(
                original.splitlines(keepends=True), text.splitlines(keepends=True), name, name
            )
            sys.stdout.writelines(diff)
        if not check_only:
            write_atomically(Path(name), text)
    for name in changed:
        click.echo(f"{'would reformat' if check_only else 'reformatted'} {name}", err=True)
    if check_only and changed:
        raise SystemExit(1)


@profile.command()
@click.argument("file")
@click.option("--profile", "name", metavar="NAME", help="Only this profile (child: a//b).")
def show(file: str, name: str | None) -> None:
    """Print the model of a policy file as JSON."""
    from aaprof.profiles.compare import profiles_by_name, read_policy

    policy = read_policy(file)
    if name is None:
        doc = policy.to_dict()
    else:
        found = profiles_by_name(policy).get(name)
        if found is None:
            raise AaprofError(f"{file}: no profile {name!r}")
        doc = found.to_dict()
    click.echo(json.dumps(doc, indent=2, ensure_ascii=False))


@profile.command()
@click.argument("file")
@click.argument("logs", nargs=-1)
@click.option("--record", "records", multiple=True, metavar="LINE", help="A log line to explain.")
@click.option("--profile", "name", metavar="NAME", help="Explain against this profile.")
@base_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="One answer per record for people, or a JSON list for programs.",
)
def explain(
    file: str,
    logs: tuple[str, ...],
    records: tuple[str, ...],
    name: str | None,
    base: Path,
    fmt: str,
) -> None:
    """Say which rule of a profile allows or denies each logged access, or that none does.

    The records come from LOG files (any format `aaprof events` reads) or --record lines.
    """
    from aaprof.engine.explain import Explainer

    if not logs and not records:
        raise click.UsageError("give LOG files or --record lines to explain")
    explainer = Explainer.load(file, base, name)
    answers = list(explainer.explain_all(logs, records))
    if fmt == "json":
        click.echo(json.dumps([a.to_dict() for a in answers], indent=2, ensure_ascii=False))
    else:
        for answer in answers:
            click.echo(answer.text())
    if not answers:
        click.echo("no AppArmor record in the input", err=True)


@profile.command()
@click.argument("left")
@click.argument("right")
def diff(left: str, right: str) -> None:
    """Rule-level difference of two policy files (exit 1 when they differ, like diff)."""
    from aaprof.profiles.compare import diff_policies, read_policy, unified

    differences = diff_policies(read_policy(left), read_policy(right))
    for line in unified(differences):
        click.echo(line)
    if differences:
        raise SystemExit(1)


@profile.command()
@click.argument("files", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here.")
def merge(files: tuple[str, ...], output: Path | None) -> None:
    """Union of policy files: profiles merged by name, repeated and covered rules dropped."""
    from aaprof.profiles.compare import merge_policies, read_policy, write_atomically
    from aaprof.profiles.render import render_policy

    text = render_policy(merge_policies(read_policy(f) for f in files))
    if output is None:
        sys.stdout.write(text)
    else:
        write_atomically(output, text)
