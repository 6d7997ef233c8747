"""`aaprof generate`: complain-mode logs → least-privilege profiles and their Kubernetes bundle.

A thin adapter: the engine's `Session` reads, suggests and saves; `k8s.write` writes the bundle.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

from aaprof.cli.image import image_option
from aaprof.cli.output import render_stats
from aaprof.cli.progress import Progress
from aaprof.cli.reading import Reading, include_denied_option, reading_options
from aaprof.errors import AaprofError

K8S = "k8s"
# Why --stack-on writes no bundle: Kubernetes' API accepts a stacked localhostProfile, containerd
# does not (docs/profile.md, "An app's profile on a baseline")
NO_STACK_BUNDLE = (
    "no Kubernetes bundle with --stack-on: containerd refuses a stacked localhostProfile "
    '(BASELINE//&APP is not a line of /sys/kernel/security/apparmor/profiles: "apparmor '
    "profile not found\"); run the stack where the OCI runtime is given the label (runc's "
    "process.apparmorProfile), see docs/profile.md"
)


@click.command()
@click.argument("logs", nargs=-1, required=True, metavar="LOG...")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory: profiles/ and k8s/ are written (merged) there.",
)
@click.option(
    "--mode",
    type=click.Choice(["complain", "enforce"]),
    default="complain",
    show_default=True,
    help="The mode the written profiles declare.",
)
@click.option(
    "--decisions",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML decisions file to replay (docs/generate.md); default: DIR/decisions.yaml if"
    " it exists (where `aaprof review` saves), else least privilege.",
)
@click.option(
    "--write-decisions",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every choice made (defaults included) to this YAML file, to edit and replay.",
)
@click.option("--per-container", is_flag=True, help="One profile per attributed container.")
@include_denied_option
@click.option("--include-noise", is_flag=True, help="Keep container-runtime start-up noise.")
@click.option("--no-k8s", is_flag=True, help="Write profiles only, no Kubernetes bundle.")
@click.option(
    "--stack-on",
    "stack_on",
    metavar="BASELINE",
    multiple=True,
    help="The app's profile is stacked on BASELINE (run as BASELINE//&APP): learn only the"
    " app's layer; BASELINE's own records are reported, never learned. No Kubernetes bundle"
    " (docs/profile.md: what runtimes accept).",
)
@click.option(
    "--legacy-annotation",
    is_flag=True,
    help="Also set the AppArmor annotation (clusters older than 1.30).",
)
@image_option("the bundle's loader DaemonSet runs")
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Write nothing: list recorded accesses DIR's profiles do not cover; exit 1 if any.",
)
@click.option(
    "--base",
    type=click.Path(file_okay=False, path_type=Path),
    default="/etc/apparmor.d",
    show_default=True,
    help="Where includes of existing profiles resolve (what they allow is not proposed).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="What stdout says: for people (the files written; with --check the missing rules), or"
    " one JSON document for programs (files, new rules, reading statistics, warnings; with"
    " --check the missing rules per profile).",
)
@reading_options
@click.option("-q", "--quiet", is_flag=True, help="No statistics line at the end.")
def generate(
    logs: tuple[str, ...],
    out: Path,
    mode: str,
    decisions: Path | None,
    write_decisions: Path | None,
    per_container: bool,
    include_denied: bool,
    include_noise: bool,
    no_k8s: bool,
    stack_on: tuple[str, ...],
    legacy_annotation: bool,
    image: str,
    check_only: bool,
    base: Path,
    fmt: str,
    quiet: bool,
    reading: Reading,
) -> None:
    """Turn the records of profiles in complain mode into profiles that allow just that.

    Reads LOG... like `aaprof events` (any format, rotated, compressed, journals, and aaprof's
    own JSON events), keeps the records the filters select, proposes the least rule for each
    recorded access that the profile in DIR/profiles does not allow yet (numbered siblings in
    one directory as one glob), and writes DIR/profiles/<name> (merging into what is there:
    hand-written rules are kept) and the Kubernetes bundle DIR/k8s/ (`kubectl apply -k`).

    \b
    Examples:
      aaprof generate /var/log/audit/audit.log --out ./apparmor
      aaprof generate sample-logs/ --out /tmp/aaprof-out --mode enforce --since 2024-11-23
      aaprof generate --check /var/log/kern.log --out ./apparmor   # a CI promotion gate
      aaprof events --format jsonl node-*/kern.log | aaprof generate - --out ./apparmor
    """
    from aaprof.engine import Session, Settings, found_decisions, learnt_modes, load_decisions
    from aaprof.logs.sources import expand

    selection = reading.selection()
    selection = dataclasses.replace(selection, modes=learnt_modes(include_denied))
    settings = Settings(mode, per_container, include_noise, base, stack_on)
    decisions = found_decisions(out, decisions)
    replay = load_decisions(decisions) if decisions is not None else ()
    inputs = expand(list(logs))
    reader = reading.reader()
    with Progress(inputs, reader, enabled=True):
        session = Session.read(
            inputs,
            out,
            settings=settings,
            selection=selection,
            attribute=reading.attributor(),
            reader=reader,
            decisions=replay,
            sources=logs,
        )
    for warning in session.warnings:
        click.echo(f"aaprof: warning: {warning}", err=True)
    if not quiet:
        click.echo(render_stats(session.stats), err=True)
        if decisions is not None:
            click.echo(f"aaprof: {len(replay)} decisions replayed from {decisions}", err=True)
    if check_only:
        gaps = session.remaining()
        if fmt == "json":
            click.echo(json.dumps([g.to_dict() for g in gaps], indent=2, ensure_ascii=False))
        else:
            for gap in gaps:
                click.echo(gap.text())
            click.echo(f"{len(gaps)} profile(s) with accesses not covered", err=True)
        if gaps:
            raise SystemExit(1)
        return
    if not session.learned:
        raise AaprofError(
            "no profile in complain mode in these logs (nothing ALLOWED; --include-denied "
            "learns from DENIED records too)"
        )
    saved = session.save(decisions_file=write_decisions)
    bundle: tuple[Path, ...] = ()
    if stack_on and not no_k8s:
        click.echo(f"aaprof: warning: {NO_STACK_BUNDLE}", err=True)
    if not no_k8s and not stack_on and saved.texts:
        from aaprof.k8s.write import write_bundle

        bundle = write_bundle(
            out / K8S, saved.texts, mode=mode, legacy_annotation=legacy_annotation, image=image
        )
    if fmt == "json":
        doc = {
            **saved.to_dict(),
            "k8s": [str(p) for p in bundle],
            "read": session.stats.to_dict(),
            "learned_from": session.learned,
            "warnings": list(session.warnings),
        }
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    lines = [f"learned from {session.learned} record{'s' if session.learned != 1 else ''}"]
    for name, path, n in saved.profiles:
        lines.append(f"  {path}  ({name}: {n} new rule{'s' if n != 1 else ''})")
    if bundle:
        lines.append(f"  {out / K8S}/  ({len(bundle)} files: kubectl apply -k)")
    if saved.decisions_file is not None:
        lines.append(f"  {saved.decisions_file}  (every choice: edit and replay with --decisions)")
    sys.stdout.write("\n".join(lines) + "\n")
