"""`aaprof catalogue`: the profiles aaprof ships for a node's own components (docs/catalogue.md)."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def catalogue() -> None:
    """List, show and write the catalogue's profiles (docs/catalogue.md)."""


@catalogue.command("list")
def list_() -> None:
    """Each entry: its name, what it confines (host service or pod), the component's version
    it was learnt on and the profile's name."""
    from aaprof import catalogue as cat

    rows = [("NAME", "RUNS AS", "VERSION", "PROFILE")]
    for e in cat.ENTRIES:
        where = str(cat.profile_path(e.name))
        version = cat.provenance(cat.profile_text(e.name), where)["version"]
        rows.append((e.name, e.runs, version, e.profile_name))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[3])


@catalogue.command()
@click.argument("name")
def show(name: str) -> None:
    """Print the entry's profile, its provenance header first."""
    from aaprof import catalogue as cat

    click.echo(cat.profile_text(name), nl=False)


@catalogue.command()
@click.argument("name")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write the profile (DIR/NAME) and, for a pod, its bundle (DIR/k8s/) into.",
)
def write(name: str, out: Path) -> None:
    """Write the entry's profile into DIR and, for what runs in a pod, its Kubernetes bundle
    (DIR/k8s/, enforce mode: `kubectl apply -k DIR/k8s`)."""
    from aaprof import catalogue as cat
    from aaprof.k8s.write import write_bundle

    e = cat.entry(name)
    written = [cat.write_profile(name, out)]
    if e.runs == cat.POD:
        profiles = {e.profile_name: cat.profile_text(name)}
        written += write_bundle(out / "k8s", profiles, mode="enforce")
    for path in written:
        click.echo(str(path))
