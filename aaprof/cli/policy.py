"""`aaprof policy`: admission policies for allowed AppArmor profiles, and testing them offline."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group(invoke_without_command=True)
@click.option(
    "--allowed",
    multiple=True,
    metavar="PROFILE",
    help="A profile pods may use: RuntimeDefault, localhost/NAME or NAME; repeat for each, or "
    "give a PodSecurityPolicy-style list (runtime/default,localhost/NAME,...).",
)
@click.option("--default", "default", metavar="PROFILE", help="Set on pods that name none.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one file per policy here (default: all on stdout, as one YAML stream).",
)
@click.option("--name", default="aaprof-apparmor", show_default=True, help="Policy name.")
@click.option(
    "--exempt-namespace",
    "exempt",
    multiple=True,
    metavar="NS",
    help="A namespace the policies skip; repeatable [default: kube-system].",
)
@click.option(
    "--namespace-label",
    "labels",
    multiple=True,
    metavar="KEY=VALUE",
    help="Apply only in namespaces with this label; repeatable.",
)
@click.option(
    "--mutating-version",
    type=click.Choice(["v1", "v1beta1"]),
    default="v1",
    show_default=True,
    help="MutatingAdmissionPolicy API: v1 for Kubernetes 1.36+, v1beta1 for 1.34-1.35.",
)
@click.pass_context
def policy(
    ctx: click.Context,
    allowed: tuple[str, ...],
    default: str | None,
    out: Path | None,
    name: str,
    exempt: tuple[str, ...],
    labels: tuple[str, ...],
    mutating_version: str,
) -> None:
    """Write admission policies that allow only the listed AppArmor profiles (docs/policy.md).

    A ValidatingAdmissionPolicy refuses pods and workloads naming any other profile, or
    Unconfined, by field or legacy annotation; a MutatingAdmissionPolicy sets --default on
    pods that name none; Kyverno ClusterPolicies do the same.
    """
    if ctx.invoked_subcommand is not None:
        return
    if not allowed or default is None:
        raise click.UsageError("give --allowed (at least once) and --default")
    from aaprof.k8s.policy import make_spec, render_policies, split_allowed

    pairs: dict[str, str] = {}
    for label in labels:
        key, sep, value = label.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{label!r}: use KEY=VALUE", param_hint="--namespace-label")
        pairs[key] = value
    spec = make_spec(
        [profile for value in allowed for profile in split_allowed(value)],
        default,
        name=name,
        exempt_namespaces=exempt or ("kube-system",),
        namespace_labels=pairs,
        map_version=mutating_version,
    )
    files = render_policies(spec)
    if out is None:
        click.echo("---\n".join(files.values()), nl=False)
        return
    from aaprof.k8s.policy_files import write_policies

    for path in write_policies(out, files):
        click.echo(f"wrote {path}")


@policy.command("test")
@click.argument("policy_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument(
    "manifests", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path)
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="One verdict a line for people, or a JSON list for programs.",
)
def test_command(policy_dir: Path, manifests: tuple[Path, ...], fmt: str) -> None:
    """Evaluate the policies in POLICY_DIR against MANIFEST(s), offline, as the API server would.

    Objects are sent in order: one that repeats an earlier object's kind, namespace and name is
    an UPDATE of it, the others CREATEs. Exit 0: every object allowed; 1: any refused or
    invalid (each reason printed).
    """
    from aaprof.k8s.policy_files import test_manifests

    verdicts = test_manifests(policy_dir, manifests)
    if fmt == "json":
        click.echo(json.dumps([v.to_dict() for v in verdicts], indent=2, ensure_ascii=False))
    else:
        for v in verdicts:
            extra = f" (mutated by {', '.join(v.mutated_by)})" if v.mutated_by else ""
            update = " (update)" if v.operation == "UPDATE" else ""
            click.echo(f"{v.outcome} {v.name}{update}{extra}")
            for reason in v.reasons:
                click.echo(f"  {reason}")
    if any(not v.allowed for v in verdicts):
        raise SystemExit(1)
