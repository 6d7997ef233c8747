"""The AppArmor profiles pods and workloads name: pod and container fields, legacy annotations."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aaprof.errors import AaprofError
from aaprof.k8s.policy_files import read_yaml

ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "PodTemplate"}


@dataclass(frozen=True, slots=True)
class ProfileRef:
    """One place a manifest names a profile.

    `kind` is `RuntimeDefault`, `Localhost` or `Unconfined`; `name` the Localhost profile (empty
    otherwise); `where` says where (`Deployment/web container app (annotation)`).
    """

    source: str
    where: str
    kind: str
    name: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "where": self.where, "type": self.kind, "name": self.name}


def read_manifests(path: Path) -> list[dict[str, Any]]:
    """Every object in a YAML file (multi-document; `List` items unpacked); `-` is stdin.

    Raises:
        AaprofError: the file cannot be read or is not YAML.
    """
    if str(path) != "-":
        return read_yaml(path)
    import sys

    import yaml

    try:
        docs = list(yaml.safe_load_all(sys.stdin.read()))
    except yaml.YAMLError as exc:
        raise AaprofError(f"stdin: not YAML: {' '.join(str(exc).split())}") from None
    return [d for d in docs if isinstance(d, dict)]


def pod_template(obj: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The (metadata, spec) of the pod an object is or templates; None for other kinds."""
    kind = obj.get("kind")
    if kind == "Pod":
        return _dict(obj.get("metadata")), _dict(obj.get("spec"))
    if kind == "CronJob":
        template = _dict(_dict(_dict(_dict(obj.get("spec")).get("jobTemplate")).get("spec")))
        template = _dict(template.get("template"))
    elif kind in _TEMPLATE_KINDS:
        holder = obj if kind == "PodTemplate" else _dict(obj.get("spec"))
        template = _dict(holder.get("template"))
    else:
        return None
    return _dict(template.get("metadata")), _dict(template.get("spec"))


def profile_refs(obj: dict[str, Any], source: str = "") -> Iterator[ProfileRef]:
    """Every profile an object names: pod field, each container's field, each annotation."""
    found = pod_template(obj)
    if found is None:
        return
    meta, spec = found
    who = f"{obj.get('kind')}/{_dict(obj.get('metadata')).get('name', '?')}"
    pod_profile = _dict(_dict(spec.get("securityContext")).get("appArmorProfile"))
    if pod_profile:
        yield _field(source, f"{who} (pod)", pod_profile)
    for key in CONTAINER_LISTS:
        for container in spec.get(key) or ():
            if not isinstance(container, dict):
                continue
            profile = _dict(_dict(container.get("securityContext")).get("appArmorProfile"))
            if profile:
                yield _field(source, f"{who} container {container.get('name', '?')}", profile)
    for key, value in _dict(meta.get("annotations")).items():
        if isinstance(key, str) and key.startswith(ANNOTATION_PREFIX):
            where = f"{who} container {key.removeprefix(ANNOTATION_PREFIX)} (annotation)"
            yield _annotation(source, where, str(value))


def _field(source: str, where: str, profile: dict[str, Any]) -> ProfileRef:
    kind = str(profile.get("type", ""))
    name = str(profile.get("localhostProfile", "")) if kind == "Localhost" else ""
    return ProfileRef(source, where, kind, name)


def _annotation(source: str, where: str, value: str) -> ProfileRef:
    if value.startswith("localhost/"):
        return ProfileRef(source, where, "Localhost", value.removeprefix("localhost/"))
    if value == "runtime/default":
        return ProfileRef(source, where, "RuntimeDefault", "")
    return ProfileRef(source, where, "Unconfined" if value == "unconfined" else value, "")


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
