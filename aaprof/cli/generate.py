"""`aaprof generate`: complain-mode logs → least-privilege profiles and their Kubernetes bundle."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from aaprof.errors import AaprofError


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
    help="YAML decisions file to replay (docs/generate.md); default: least privilege.",
)
@click.option("--profile", "only", metavar="GLOB", help="Only profiles whose name matches.")
@click.option("--per-container", is_flag=True, help="One profile per attributed container.")
@click.option("--include-denied", is_flag=True, help="Also learn from DENIED records.")
@click.option("--include-noise", is_flag=True, help="Keep container-runtime start-up noise.")
@click.option("--no-k8s", is_flag=True, help="Write profiles only, no Kubernetes bundle.")
@click.option(
    "--legacy-annotation",
    is_flag=True,
    help="Also set the AppArmor annotation (clusters older than 1.30).",
)
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
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def generate(
    logs: tuple[str, ...],
    out: Path,
    mode: str,
    decisions: Path | None,
    only: str | None,
    per_container: bool,
    include_denied: bool,
    include_noise: bool,
    no_k8s: bool,
    legacy_annotation: bool,
    check_only: bool,
    base: Path,
    fmt: str,
) -> None:
    """Turn the records of profiles in complain mode into profiles that allow just that.

    Reads LOG... like `aaprof events` (any format, rotated, compressed, journals), proposes the
    least rule for each recorded access that the profile in DIR/profiles does not allow yet,
    and writes DIR/profiles/<name> (merging into what is there: hand-written rules are kept)
    and the Kubernetes bundle DIR/k8s/ (apply with `kubectl apply -k DIR/k8s`).

    \b
    Examples:
      aaprof generate /var/log/audit/audit.log --out ./apparmor
      aaprof generate sample-logs/ --out /tmp/aaprof-out --mode enforce
      aaprof generate --check /var/log/kern.log --out ./apparmor   # a CI promotion gate
    """
    from aaprof.cli.progress import Progress
    from aaprof.generate import Generation

    run = Generation.prepare(
        logs,
        out,
        mode=mode,
        decisions=decisions,
        only=only,
        per_container=per_container,
        include_denied=include_denied,
        include_noise=include_noise,
        base=base,
    )
    with Progress(run.inputs, run, enabled=True) as done:
        run.learned_from()  # reads the logs, with a progress bar on a terminal
        done()
    if check_only:
        gaps = run.uncovered()
        if fmt == "json":
            click.echo(json.dumps([g.to_dict() for g in gaps], indent=2, ensure_ascii=False))
        else:
            for gap in gaps:
                click.echo(gap.text())
            click.echo(f"{len(gaps)} profile(s) with accesses not covered", err=True)
        if gaps:
            raise SystemExit(1)
        return
    if not run.learned_from():
        raise AaprofError(
            "no profile in complain mode in these logs (nothing ALLOWED; --include-denied "
            "learns from DENIED records too)"
        )
    written = run.write(k8s=not no_k8s, legacy_annotation=legacy_annotation)
    if fmt == "json":
        click.echo(json.dumps(written.to_dict(), indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(written.text())
