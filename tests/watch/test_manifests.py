"""The watch DaemonSet bundle: valid for Kubernetes (kubernetes-validate, strict), read-only host
mounts, the node name from the downward API, requests, a PodMonitor, and no API token."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from aaprof.cli.main import cli
from aaprof.errors import AaprofError
from aaprof.k8s.watch import WatchManifest, render_manifests

# tests/k8s/validate.py, importable whether or not tests/k8s was collected first
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from k8s.validate import validate_bundle

# The parts of monitoring.coreos.com/v1 PodMonitor the bundle uses (prometheus-operator's CRD).
PODMONITOR: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PodMonitor"},
        "metadata": {"type": "object", "required": ["name", "namespace"]},
        "spec": {
            "type": "object",
            "required": ["selector", "podMetricsEndpoints"],
            "additionalProperties": False,
            "properties": {
                "selector": {"type": "object"},
                "podMetricsEndpoints": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "interval": {"type": "string", "pattern": "^[0-9]+[smh]$"},
                        },
                    },
                },
            },
        },
    },
}


def docs(files: dict[str, str], name: str) -> list[Any]:
    return [d for d in yaml.safe_load_all(files[name]) if d is not None]


def test_the_bundle_validates() -> None:
    files = render_manifests(WatchManifest(image="registry.example/aaprof:1.0"))
    # kubernetes-validate has no CRD schemas: the PodMonitor is checked against PODMONITOR
    kube = {**files, "podmonitor.yaml": ""}
    assert validate_bundle(kube) == ()
    jsonschema.validate(docs(files, "podmonitor.yaml")[0], PODMONITOR)


def test_the_daemonset_reads_the_host_and_holds_no_token() -> None:
    files = render_manifests(WatchManifest(image="registry.example/aaprof:1.0"))
    (ds,) = docs(files, "daemonset.yaml")
    pod = ds["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    for path in ("/host/var/log", "/host/run/log/journal", "/host/proc", "/host/dev/kmsg"):
        assert mounts[path]["readOnly"] is True
    writable = [p for p, m in mounts.items() if not m.get("readOnly")]
    assert writable == ["/var/lib/aaprof-watch"]
    env = {e["name"]: e for e in container["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]


def test_hostile_image_stays_one_scalar() -> None:
    image = 'x"}evil:{"y'
    files = render_manifests(WatchManifest(image=image))
    (ds,) = docs(files, "daemonset.yaml")
    assert ds["spec"]["template"]["spec"]["containers"][0]["image"] == image
    assert "evil" not in ds["spec"]["template"]["spec"]["containers"][0]


def test_an_image_with_a_newline_is_refused() -> None:
    """What the loader's bundle refuses, watch's manifests refuse (aaprof.k8s.image)."""
    with pytest.raises(AaprofError, match="not an image reference"):
        render_manifests(WatchManifest(image='x"\n  evil: true\n- "y'))


def test_bad_namespace_is_refused() -> None:
    with pytest.raises(AaprofError, match="not a valid Kubernetes name"):
        render_manifests(WatchManifest(image="i", namespace="Bad_NS"))


def test_the_command_writes_them(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["watch", "--manifests", str(tmp_path), "--image", "i:1"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "daemonset.yaml",
        "kustomization.yaml",
        "namespace.yaml",
        "podmonitor.yaml",
    ]
