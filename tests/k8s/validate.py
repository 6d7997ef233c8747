"""Checking a rendered bundle: every document parses and validates against Kubernetes schemas."""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from aaprof.errors import AaprofError

# The oldest Kubernetes with `securityContext.appArmorProfile`, and the newest
# kubernetes-validate knows (it ships the schemas, so no network is needed).
VERSIONS = ("1.30", "latest")
_KUSTOMIZE_KINDS = {"Kustomization", "Component"}
_SPO_API = "security-profiles-operator.x-k8s.io/v1"
_STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1}}

# SPO v1 `AppArmorProfile`, written from api/apparmorprofile/v1/apparmorprofile_types.go (the
# reference notes §2.1): cluster-scoped, `mode` and `state` enums, `abstract` allow-lists.
SPO_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": _SPO_API},
        "kind": {"const": "AppArmorProfile"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "not": {"required": ["namespace"]},
            "properties": {
                "name": {
                    "type": "string",
                    "maxLength": 253,
                    "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
                },
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "state": {"enum": ["Enabled", "Disabled"]},
                "mode": {"enum": ["Enforce", "Complain"]},
                "abstract": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "executable": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "allowedExecutables": _STRINGS,
                                "allowedLibraries": _STRINGS,
                            },
                        },
                        "filesystem": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "readOnlyPaths": _STRINGS,
                                "writeOnlyPaths": _STRINGS,
                                "readWritePaths": _STRINGS,
                            },
                        },
                        "network": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "allowRaw": {"type": "boolean"},
                                "allowedProtocols": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {
                                        "allowTcp": {"type": "boolean"},
                                        "allowUdp": {"type": "boolean"},
                                    },
                                },
                            },
                        },
                        "capability": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {"allowedCapabilities": _STRINGS},
                        },
                    },
                },
            },
        },
    },
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem with one document of the bundle (`index` counts from 0 within the file)."""

    path: str
    index: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}[{self.index}]: {self.message}"


def validate_bundle(
    files: Mapping[str, str], *, versions: tuple[str, ...] = VERSIONS
) -> tuple[Finding, ...]:
    """Parse every YAML file of a bundle back and validate each document.

    Kubernetes objects go through kubernetes-validate (strict: unknown fields are errors) for
    each version; workload patches, being partial, are first merged into a minimal workload of
    their kind; SPO `AppArmorProfile`s are checked against SPO_SCHEMA; kustomizations must
    name only files of the bundle.

    Args:
        files: Relative path → content, as `render_bundle` returns.
        versions: Kubernetes versions to validate against (kubernetes-validate's names).

    Returns:
        The findings; empty when the bundle is valid.

    Raises:
        AaprofError: kubernetes-validate or jsonschema is not installed.
    """
    findings: list[Finding] = []
    for path, text in sorted(files.items()):
        if not path.endswith(".yaml"):
            continue
        try:
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as exc:
            findings.append(Finding(path, 0, f"does not parse: {exc}"))
            continue
        for index, doc in enumerate(docs):
            findings.extend(Finding(path, index, msg) for msg in _check(path, doc, files, versions))
    return tuple(findings)


def _check(
    path: str, doc: object, files: Mapping[str, str], versions: tuple[str, ...]
) -> Iterator[str]:
    if not isinstance(doc, dict):
        yield f"a {type(doc).__name__}, not an object"
        return
    kind = doc.get("kind")
    if kind in _KUSTOMIZE_KINDS:
        yield from _check_kustomization(path, doc, files)
    elif doc.get("apiVersion") == _SPO_API:
        yield from _check_json_schema(doc, SPO_SCHEMA)
    else:
        if path.startswith("workloads/"):
            doc = apply_to_skeleton(doc)
        for version in versions:
            yield from (f"Kubernetes {version}: {m}" for m in _check_kubernetes(doc, version))


def _check_kubernetes(doc: dict[str, Any], version: str) -> Iterator[str]:
    kv = _import("kubernetes_validate")
    try:
        kv.validate(doc, kv.latest_version() if version == "latest" else version, strict=True)
    except kv.ValidationError as exc:
        where = "/".join(str(p) for p in exc.path)
        yield f"{where}: {exc.message}"
    except kv.SchemaNotFoundError as exc:
        yield f"no schema: {exc}"


def _check_json_schema(doc: dict[str, Any], schema: dict[str, Any]) -> Iterator[str]:
    jsonschema = _import("jsonschema")
    for error in jsonschema.Draft7Validator(schema).iter_errors(doc):
        yield f"{'/'.join(str(p) for p in error.path)}: {error.message}"


def _check_kustomization(path: str, doc: dict[str, Any], files: Mapping[str, str]) -> Iterator[str]:
    base = posixpath.dirname(path)
    named = [*doc.get("resources", ()), *doc.get("components", ())]
    named += [p["path"] for p in doc.get("patches", ())]
    for name in named:
        target = posixpath.normpath(posixpath.join(base, name))
        if target not in files and f"{target}/kustomization.yaml" not in files:
            yield f"names {name!r}, which is not in the bundle"


def apply_to_skeleton(patch: dict[str, Any]) -> dict[str, Any]:
    """A strategic-merge patch of a workload applied to a minimal valid workload of its kind.

    The skeleton has one container (`image: registry.invalid/app:1`) for each container the
    patch names; lists of containers merge by name, mappings recursively, as kubectl does.
    """
    names = [c["name"] for c in _pod_spec(patch).get("containers", [])]
    image = "registry.invalid/app:1"
    pod_spec: dict[str, Any] = {"containers": [{"name": n, "image": image} for n in names]}
    labels = {"app": "skeleton"}
    template = {"metadata": {"labels": labels}, "spec": pod_spec}
    kind = patch.get("kind")
    spec: dict[str, Any] = {"selector": {"matchLabels": labels}, "template": template}
    if kind == "StatefulSet":
        spec["serviceName"] = "skeleton"
    if kind in ("Job", "CronJob"):
        pod_spec["restartPolicy"] = "Never"
        spec = {"template": template}
    if kind == "CronJob":
        spec = {"schedule": "0 * * * *", "jobTemplate": {"spec": spec}}
    skeleton = {"apiVersion": patch.get("apiVersion"), "kind": kind, "metadata": {}, "spec": spec}
    merged: dict[str, Any] = _merge(skeleton, copy.deepcopy(patch))
    return merged


def _pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload.get("spec", {})
    if workload.get("kind") == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    result: dict[str, Any] = spec.get("template", {}).get("spec", {})
    return result


def _merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = _merge(base[key], value) if key in base else value
        return out
    if isinstance(base, list) and isinstance(patch, list) and _named(base) and _named(patch):
        by_name = {item["name"]: item for item in base}
        for item in patch:
            by_name[item["name"]] = _merge(by_name.get(item["name"], {}), item)
        return list(by_name.values())
    return patch


def _named(items: list[Any]) -> bool:
    return all(isinstance(i, dict) and "name" in i for i in items)


def _import(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise AaprofError(
            f"validating the bundle needs {module}: pip install 'aaprof[test]' "
            "(or pip install kubernetes-validate)"
        ) from None
