"""Writing the Kubernetes bundle into a directory: the step after the engine saved profiles."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aaprof.k8s.bundle import render_bundle, targets_for
from aaprof.k8s.image import DEFAULT_IMAGE


def write_bundle(
    directory: Path,
    profiles: Mapping[str, str],
    *,
    mode: str = "complain",
    legacy_annotation: bool = False,
    image: str = DEFAULT_IMAGE,
) -> tuple[Path, ...]:
    """Render the bundle for `profiles` (name → profile text) into `directory`, atomically per
    file; the workloads patched are those the names in aaprof's scheme stand for.

    Raises:
        AaprofError: a name or text the bundle refuses, a file that cannot be written.
    """
    from aaprof.profiles.compare import write_atomically

    files = render_bundle(
        profiles,
        targets_for(profiles),
        legacy_annotation=legacy_annotation,
        mode=mode,
        image=image,
    )
    paths = []
    for relative, content in sorted(files.items()):
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, content)
        paths.append(path)
    return tuple(paths)
