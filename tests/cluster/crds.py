"""The CustomResourceDefinitions aaprof's manifests need, at pinned versions, from the Go module
proxy: a project's module zip carries its repository's YAML (checked by Go against the checksum
database). docs/cluster.md names each source.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

# (module, version, the CRD file inside the module)
PINS: tuple[tuple[str, str, str], ...] = (
    # Security Profiles Operator: AppArmorProfile (security-profiles-operator.x-k8s.io/v1)
    ("sigs.k8s.io/security-profiles-operator", "v1.0.0",
     "deploy/base-crds/crds/apparmorprofile.yaml"),
    # prometheus-operator (the root module; the nested API module has no YAML): PodMonitor and
    # PrometheusRule (monitoring.coreos.com/v1)
    ("github.com/prometheus-operator/prometheus-operator", "v0.85.0",
     "example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml"),
    ("github.com/prometheus-operator/prometheus-operator", "v0.85.0",
     "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml"),
    # Kyverno: ClusterPolicy (kyverno.io/v1)
    ("github.com/kyverno/kyverno", "v1.19.1",
     "config/crds/kyverno/kyverno.io_clusterpolicies.yaml"),
)  # fmt: skip


class CrdError(RuntimeError):
    pass


def module_dir(module: str, version: str) -> Path:
    """Where `go mod download` put MODULE@VERSION (downloaded first when missing)."""
    proc = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        capture_output=True, text=True, check=False, cwd="/",
    )  # fmt: skip
    try:
        info = json.loads(proc.stdout)
    except json.JSONDecodeError:
        info = {}
    if proc.returncode != 0 or "Dir" not in info:
        raise CrdError(
            f"go mod download {module}@{version} failed: {info.get('Error') or proc.stderr.strip()}"
            " (needs Go on PATH and the Go module proxy)"
        )
    return Path(info["Dir"])


def files() -> list[Path]:
    """The CRD files of PINS, in order."""
    return [module_dir(module, version) / path for module, version, path in PINS]
