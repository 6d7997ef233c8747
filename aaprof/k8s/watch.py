"""The watch DaemonSet's manifests (templates/watch-*.j2), rendered and written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aaprof.containers.naming import DNS_LABEL
from aaprof.errors import AaprofError
from aaprof.k8s.image import DEFAULT_IMAGE, check_image
from aaprof.k8s.templates import render

DEFAULT_PORT = 9750


@dataclass(frozen=True, slots=True)
class WatchManifest:
    """What the watch deployment is made of; the defaults are documented in docs/watch.md."""

    image: str = DEFAULT_IMAGE
    namespace: str = "aaprof-system"
    name: str = "aaprof-watch"
    port: int = DEFAULT_PORT
    cpu: str = "100m"
    memory: str = "128Mi"
    memory_limit: str = "256Mi"
    podmonitor: bool = True


def render_manifests(spec: WatchManifest) -> dict[str, str]:
    """Relative path -> YAML text of the watch bundle (a kustomization).

    Raises:
        AaprofError: An invalid name, port or image.
    """
    check_image(spec.image)
    for what, value in (("namespace", spec.namespace), ("name", spec.name)):
        if len(value) > 63 or not DNS_LABEL.fullmatch(value):
            raise AaprofError(f"watch {what} {value!r} is not a valid Kubernetes name")
    if not 0 < spec.port < 65536:
        raise AaprofError(f"watch port {spec.port} is not a port number")
    context = {
        "image": spec.image,
        "namespace": spec.namespace,
        "name": spec.name,
        "port": spec.port,
        "cpu": spec.cpu,
        "memory": spec.memory,
        "memory_limit": spec.memory_limit,
        "podmonitor": spec.podmonitor,
    }
    files = {
        "namespace.yaml": render("watch-namespace.yaml.j2", context),
        "daemonset.yaml": render("watch-daemonset.yaml.j2", context),
        "kustomization.yaml": render("watch-kustomization.yaml.j2", context),
    }
    if spec.podmonitor:
        files["podmonitor.yaml"] = render("watch-podmonitor.yaml.j2", context)
    return files


def write_manifests(spec: WatchManifest, directory: Path) -> list[Path]:
    """Write the bundle under `directory`; the paths written."""
    written = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in sorted(render_manifests(spec).items()):
            path = directory / name
            path.write_text(text)
            written.append(path)
    except OSError as exc:
        raise AaprofError(f"{directory}: cannot write the manifests: {exc.strerror}") from None
    return written
