"""What the API server itself does with a pod's AppArmor settings, around admission.

`aaprof policy test` must give the API server's verdict, and the API server does more than run
the policies. In order, for a create or update of a pod or a workload:

1. mutating admission (the MutatingAdmissionPolicies);
2. the pod strategy's preparation: on a Pod's CREATE, every container that has a legacy
   annotation and no field of its own gets the field from the annotation, unless it equals the
   pod-level field (`applyAppArmorVersionSkew`; templates are not touched);
3. validation: the field's own rules, the annotation's format and container, annotation and
   field agreeing (create, and every pod template), and on a Pod's UPDATE that neither the
   AppArmor fields (the pod spec is immutable there) nor the annotations change;
4. validating admission (the ValidatingAdmissionPolicies).

Only the AppArmor part of steps 2 and 3 is modelled: the rest of a pod's validation is the
API server's business, and a manifest invalid for other reasons is beyond `policy test`. Error
strings follow Kubernetes' `field.Error` form, `PATH: TYPE: DETAIL`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
_CONTAINER_KEYS = ("initContainers", "containers", "ephemeralContainers")  # VisitContainers' order
_MAX_NAME = 4095  # PATH_MAX - 1


def template_path(obj: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The keys leading to OBJ's pod template (() for a Pod itself; None for other kinds)."""
    kind = obj.get("kind")
    if kind == "Pod":
        return ()
    if kind == "CronJob":
        return ("spec", "jobTemplate", "spec", "template")
    if kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}:
        return ("spec", "template")
    return None


def _dig(obj: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, Mapping) else None
    return obj


def _containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, int, dict[str, Any]]]:
    for key in _CONTAINER_KEYS:
        for index, c in enumerate(spec.get(key) or ()):
            if isinstance(c, dict):
                yield key, index, c


def _profile(holder: Any) -> Any:
    context = holder.get("securityContext") if isinstance(holder, Mapping) else None
    return context.get("appArmorProfile") if isinstance(context, Mapping) else None


def _annotations(meta: Any) -> dict[str, str]:
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    if not isinstance(annotations, Mapping):
        return {}
    return {str(k): str(v) for k, v in annotations.items() if str(k).startswith(ANNOTATION_PREFIX)}


def field_for_annotation(value: str) -> dict[str, str] | None:
    """The field a legacy annotation value stands for (None: none valid)."""
    if value == "unconfined":
        return {"type": "Unconfined"}
    if value == "runtime/default":
        return {"type": "RuntimeDefault"}
    if value.startswith("localhost/") and value != "localhost/":
        return {"type": "Localhost", "localhostProfile": value.removeprefix("localhost/")}
    return None


def sync_annotations(pod: dict[str, Any]) -> None:
    """Step 2, in place: a Pod's legacy annotations copied into its containers' fields."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    if (_dig(spec, ("os", "name")) or "") == "windows":
        return
    annotations = _annotations(pod.get("metadata"))
    pod_profile = _profile(spec)
    for _key, _index, c in _containers(spec):
        value = annotations.get(ANNOTATION_PREFIX + str(c.get("name")))
        if value is None or _profile(c) is not None:
            continue
        new = field_for_annotation(value)
        if new is None or field_errors(new, "") or new == pod_profile:
            continue
        context = c.get("securityContext")
        if not isinstance(context, dict):
            context = c["securityContext"] = {}
        context["appArmorProfile"] = new


def _quote(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def field_errors(profile: Any, path: str) -> list[str]:
    """An `appArmorProfile` field's own rules (ValidateAppArmorProfileField)."""
    if not isinstance(profile, Mapping):
        return []
    kind = profile.get("type") or ""
    name = profile.get("localhostProfile")
    if kind == "Localhost":
        if name is None:
            return [f"{path}.localhostProfile: Required value: must be set when AppArmor type is "
                    "Localhost"]  # fmt: skip
        errors = []
        if str(name).strip() != name:
            errors.append(f"{path}.localhostProfile: Invalid value: {_quote(name)}: must not be "
                          "padded with whitespace")  # fmt: skip
        elif not name:
            errors.append(f"{path}.localhostProfile: Required value: must be set when AppArmor "
                          "type is Localhost")  # fmt: skip
        if len(str(name).encode()) > _MAX_NAME:
            errors.append(f"{path}.localhostProfile: Too long: may not be more than {_MAX_NAME} "
                          "bytes")  # fmt: skip
        return errors
    if kind in {"RuntimeDefault", "Unconfined"}:
        if name is not None:
            return [f"{path}.localhostProfile: Invalid value: {_quote(name)}: can only be set "
                    "when AppArmor type is Localhost"]  # fmt: skip
        return []
    if kind == "":
        return [f"{path}.type: Required value: type is required when appArmorProfile is set"]
    return [f'{path}.type: Unsupported value: {_quote(kind)}: supported values: "Localhost", '
            '"RuntimeDefault", "Unconfined"']  # fmt: skip


def _dotted(keys: tuple[str, ...]) -> str:
    return ".".join(keys)


def validation_errors(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[str]:
    """Step 3: the API server's AppArmor validation errors for OBJ (OLD: the stored version on
    UPDATE). Empty: valid as far as AppArmor goes."""
    keys = template_path(obj)
    if keys is None:
        return []
    template = _dig(obj, keys) if keys else obj
    if not isinstance(template, Mapping):
        return []
    raw_spec = template.get("spec")
    spec: Mapping[str, Any] = raw_spec if isinstance(raw_spec, Mapping) else {}
    spec_path = _dotted((*keys, "spec"))
    # a template's annotations are at PATH.annotations, a pod's at metadata.annotations
    meta_path = _dotted((*keys, "annotations")) if keys else "metadata.annotations"
    errors: list[str] = []
    pod_profile = _profile(spec)
    errors += field_errors(pod_profile, f"{spec_path}.securityContext.appArmorProfile")
    for key, index, c in _containers(spec):
        errors += field_errors(
            _profile(c), f"{spec_path}.{key}[{index}].securityContext.appArmorProfile"
        )
    annotations = _annotations(template.get("metadata") if keys else obj.get("metadata"))
    names = {str(c.get("name")) for _k, _i, c in _containers(spec)}
    for key, value in annotations.items():
        container = key.removeprefix(ANNOTATION_PREFIX)
        if container not in names:
            errors.append(f"{meta_path}[{key}]: Invalid value: {_quote(container)}: container "
                          "not found")  # fmt: skip
        if value not in {"", "runtime/default", "unconfined"} and not value.startswith(
            "localhost/"
        ):
            errors.append(f"{meta_path}[{key}]: Invalid value: {_quote(value)}: invalid AppArmor "
                          f"profile name: {_quote(value)}")  # fmt: skip
    pod_update = old is not None and obj.get("kind") == "Pod"
    if not pod_update and (_dig(spec, ("os", "name")) or "") != "windows":
        errors += _mismatches(spec, spec_path, annotations, pod_profile)
    if pod_update and old is not None:
        errors += _pod_update_errors(obj, old, annotations, meta_path)
    return errors


def _mismatches(
    spec: Mapping[str, Any], spec_path: str, annotations: Mapping[str, str], pod_profile: Any
) -> list[str]:
    """Annotation and field disagreeing (validateAppArmorAnnotationsAndFieldsMatchOnCreate)."""
    errors = []
    for key, index, c in _containers(spec):
        profile = _profile(c) or pod_profile
        value = annotations.get(ANNOTATION_PREFIX + str(c.get("name")))
        if not isinstance(profile, Mapping) or value is None:
            continue
        path = f"{spec_path}.{key}[{index}].securityContext.appArmorProfile"
        kind = profile.get("type")
        if (kind == "Unconfined" and value != "unconfined") or (
            kind == "RuntimeDefault" and value != "runtime/default"
        ):
            errors.append(f"{path}.type: Forbidden: apparmor type in annotation and field must "
                          "match")  # fmt: skip
        elif kind == "Localhost":
            if not value.startswith("localhost/"):
                errors.append(f"{path}.type: Forbidden: apparmor type in annotation and field "
                              "must match")  # fmt: skip
            elif value.removeprefix("localhost/") != profile.get("localhostProfile"):
                errors.append(f"{path}.localhostProfile: Forbidden: apparmor profile in "
                              "annotation and field must match")  # fmt: skip
    return errors


def _pod_update_errors(
    obj: Mapping[str, Any], old: Mapping[str, Any], annotations: Mapping[str, str], meta_path: str
) -> list[str]:
    """A Pod's UPDATE: AppArmor annotations may not change; its spec (fields) may not either."""
    errors = []
    before = _annotations(old.get("metadata"))
    for key, value in before.items():
        if annotations.get(key) != value:
            errors.append(f"{meta_path}[{key}]: Forbidden: may not remove or update AppArmor "
                          "annotations")  # fmt: skip
    for key in annotations:
        if key not in before:
            errors.append(f"{meta_path}[{key}]: Forbidden: may not add AppArmor annotations")
    if profiles(obj.get("spec")) != profiles(old.get("spec")):
        errors.append("spec: Forbidden: pod updates may not change fields other than those "
                      "listed by the API server (the AppArmor profile is immutable)")  # fmt: skip
    return errors


def profiles(spec: Any) -> dict[str, Any]:
    """The AppArmor fields of a pod spec: "" for the pod level, then each container's name."""
    if not isinstance(spec, Mapping):
        return {}
    out: dict[str, Any] = {"": _profile(spec)}
    for _key, _index, c in _containers(spec):
        out[str(c.get("name"))] = _profile(c)
    return out
