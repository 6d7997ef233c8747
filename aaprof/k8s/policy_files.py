"""Policy files on disk: writing `aaprof policy --out`, reading them back for `policy test`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aaprof.errors import AaprofError
from aaprof.k8s.admission import POD_KINDS, Verdict, admit, collect


def write_policies(out: Path, files: Mapping[str, str]) -> list[Path]:
    """Write each file into `out` (created), whole; returns the paths written.

    Raises:
        AaprofError: a file cannot be written.
    """
    written = []
    for name, text in files.items():
        path = out / name
        tmp = out / f".{name}.tmp"
        try:
            out.mkdir(parents=True, exist_ok=True)
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:
            raise AaprofError(f"cannot write {path}: {exc.strerror}") from None
        written.append(path)
    return written


def read_yaml(path: Path) -> list[dict[str, Any]]:
    """The objects of a YAML file (several documents; `List` items unpacked).

    Raises:
        AaprofError: it cannot be read or is not YAML.
    """
    import yaml

    try:
        docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise AaprofError(f"{path}: {exc.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise AaprofError(f"{path}: not YAML: {' '.join(str(exc).split())}") from None
    out: list[dict[str, Any]] = []
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "List":
            out.extend(d for d in doc.get("items") or () if isinstance(d, dict))
        elif isinstance(doc, dict):
            out.append(doc)
    return out


def test_manifests(policy_dir: Path, manifests: Sequence[Path]) -> list[Verdict]:
    """Every pod or workload in the manifests, admitted against the directory's policies.

    The objects are sent in order, as `kubectl apply` of the files would: an object whose kind,
    namespace and name an earlier admitted object had is an UPDATE of that one (as it was
    stored: mutated); otherwise a CREATE. Namespace objects among the manifests give their
    labels to the bindings' selectors; objects of other kinds are skipped.

    Raises:
        AaprofError: a file cannot be read, or a policy's CEL cannot be evaluated.
    """
    policy_objects = [o for p in sorted(policy_dir.glob("*.y*ml")) for o in read_yaml(p)]
    policies = collect(policy_objects)
    objects = [o for path in manifests for o in read_yaml(path)]
    namespaces = {
        str((o.get("metadata") or {}).get("name")): (o.get("metadata") or {}).get("labels") or {}
        for o in objects
        if o.get("kind") == "Namespace"
    }
    stored: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    verdicts = []
    for obj in objects:
        if obj.get("kind") not in POD_KINDS:
            continue
        meta = obj.get("metadata") or {}
        key = (str(obj.get("kind")), str(meta.get("namespace") or "default"), str(meta.get("name")))
        verdict = admit(policies, obj, namespaces, stored.get(key))
        if verdict.allowed:
            stored[key] = verdict.result
        verdicts.append(verdict)
    return verdicts
