"""Every manifest aaprof writes, applied to the real API server (server-side apply) and read
back: the bundle learnt from sample-logs (plain, --per-container, --legacy-annotation), its SPO
AppArmorProfiles, the watch DaemonSet's manifests, the rule pack's PrometheusRule and the policy
files (with Kyverno's ClusterPolicy), each file on its own and each kustomization as kustomize
builds it. The CRDs they need are installed first, at the versions crds.PINS names.

"Read back" means every field aaprof wrote is in the stored object with the value written: a
field the API server dropped (an unknown field pruned by a CRD's schema, say) fails the test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aaprof_cli import aaprof

from aaprof.k8s.bundle import render_bundle, targets_for
from cluster.admission_cases import container, pod_spec, template_of, workload
from cluster.conftest import Cluster

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_LOGS = sorted(str(p) for p in (ROOT / "sample-logs").glob("node-*"))


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]


def _spo_bundle(out: Path) -> Path:
    """A bundle with SPO AppArmorProfiles: profiles within SPO's allow-lists."""
    profiles = {
        "aaprof.shop.web.nginx": (
            "abi <abi/3.0>,\ninclude <tunables/global>\n"
            "profile aaprof.shop.web.nginx flags=(attach_disconnected,mediate_deleted) {\n"
            "  include <abstractions/base>\n  /etc/nginx/** r,\n  /usr/sbin/nginx rix,\n"
            "  capability net_bind_service,\n  network tcp,\n}\n"
        ),
        "aaprof.data.pg.v16.postgres": (
            "profile aaprof.data.pg.v16.postgres {\n  /var/lib/postgresql/data/** rwlk,\n}\n"
        ),
    }
    for name, text in render_bundle(profiles, targets_for(profiles), spo=True).items():
        path = out / "k8s" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return out / "k8s"


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """What aaprof writes, by name: each a directory of manifests."""
    base = tmp_path_factory.mktemp("written")
    aaprof("generate", *SAMPLE_LOGS, "--out", str(base / "bundle"), "-q", check=True)
    aaprof("generate", *SAMPLE_LOGS, "--out", str(base / "per-container"), "--per-container",
            "-q", check=True)  # fmt: skip
    aaprof(
        "generate",
        *SAMPLE_LOGS,
        "--out",
        str(base / "legacy"),
        "--legacy-annotation",
        "-q",
        check=True,
    )
    aaprof("watch", "--manifests", str(base / "watch"), check=True)
    aaprof("alerts", "rules", "--out", str(base / "alerts"), check=True)
    # the policies' namespace label matches no namespace: installed, they judge nothing here
    aaprof("policy", "--allowed", "RuntimeDefault", "--allowed", "aaprof.shop.web.nginx",
            "--default", "RuntimeDefault", "--name", "aaprof-manifests-test",
            "--namespace-label", "aaprof-test=none", "--out", str(base / "policy"),
            check=True)  # fmt: skip
    return {
        "bundle": base / "bundle" / "k8s",
        "per-container": base / "per-container" / "k8s",
        "legacy-annotation": base / "legacy" / "k8s",
        "spo": _spo_bundle(base / "spo"),
        "watch": base / "watch",
        "alerts": base / "alerts" / "prometheus-operator",
        "policy": base / "policy",
    }


def _manifest_files(directory: Path) -> list[Path]:
    """The files of DIRECTORY that hold objects (kustomizations and workload patches do not)."""
    files = []
    for path in sorted(directory.rglob("*.yaml")):
        docs = _docs(path)
        if not docs or any(d.get("kind") in {"Kustomization", "Component"} for d in docs):
            continue
        if path.parent.name == "workloads":  # strategic-merge patches: test_workload_patches
            continue
        files.append(path)
    return files


def _missing(sent: Any, stored: Any, where: str = "") -> Iterator[str]:
    """Every place where STORED lacks what SENT says."""
    if isinstance(sent, dict):
        if not isinstance(stored, dict):
            yield f"{where}: stored {stored!r}"
            return
        for key, value in sent.items():
            if key not in stored:
                yield f"{where}.{key}: dropped"
            else:
                yield from _missing(value, stored[key], f"{where}.{key}")
    elif isinstance(sent, list):
        if not isinstance(stored, list) or len(stored) != len(sent):
            yield f"{where}: stored {stored!r}"
            return
        for i, (a, b) in enumerate(zip(sent, stored, strict=True)):
            yield from _missing(a, b, f"{where}[{i}]")
    elif sent != stored:
        yield f"{where}: sent {sent!r}, stored {stored!r}"


def _read_back(cluster: Cluster, doc: dict[str, Any]) -> list[str]:
    meta = doc["metadata"]
    args = [f"{doc['kind']}.{doc['apiVersion'].split('/')[0]}" if "/" in doc["apiVersion"]
            else doc["kind"], meta["name"]]  # fmt: skip
    if meta.get("namespace"):
        args += ["-n", meta["namespace"]]
    stored = cluster.get_json(*args)
    return list(_missing(doc, stored, doc["kind"] + "/" + meta["name"]))


SETS = ("bundle", "per-container", "legacy-annotation", "spo", "watch", "alerts", "policy")


@pytest.mark.parametrize("name", SETS)
def test_every_file_applies_and_reads_back(
    cluster: Cluster, installed_crds: list[str], written: dict[str, Path], name: str
) -> None:
    files = _manifest_files(written[name])
    assert files, f"{name}: aaprof wrote no manifest"
    # Namespaces first, and those the manifests name but do not create (the PrometheusRule's
    # `monitoring`, where the user's Prometheus Operator runs) made as the user's cluster has them
    files.sort(key=lambda p: not any(d.get("kind") == "Namespace" for d in _docs(p)))
    created = {d["metadata"]["name"] for p in files for d in _docs(p) if d["kind"] == "Namespace"}
    for ns in {d["metadata"].get("namespace") for p in files for d in _docs(p)} - created:
        if ns:
            cluster.kubectl("create", "namespace", ns, check=False)
    problems = []
    for path in files:
        cluster.apply([path])
        for doc in _docs(path):
            problems += _read_back(cluster, doc)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", ["bundle", "per-container", "legacy-annotation", "spo", "watch"])
def test_kustomizations_build_and_apply(
    cluster: Cluster, installed_crds: list[str], written: dict[str, Path], name: str
) -> None:
    directory = written[name]
    kustomizations = sorted(p.parent for p in directory.rglob("kustomization.yaml")
                            if _docs(p)[0].get("kind") == "Kustomization")  # fmt: skip
    assert kustomizations
    for k in kustomizations:
        built = cluster.kubectl("kustomize", str(k)).stdout
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=built)
        problems = [p for d in yaml.safe_load_all(built) if d for p in _read_back(cluster, d)]
        assert not problems, f"{k}:\n" + "\n".join(problems)


def _skeleton(patch: dict[str, Any]) -> dict[str, Any]:
    """The smallest workload of the patch's kind, namespace and name, with its containers."""
    meta = patch["metadata"]
    containers = [container(c["name"]) for c in template_of(patch)["spec"].get("containers", [])]
    return workload(
        patch["kind"], meta["name"], pod_spec(None, containers), None, meta["namespace"]
    )


@pytest.mark.parametrize("name", ["bundle", "per-container", "legacy-annotation"])
def test_workload_patches_patch_live_workloads(
    cluster: Cluster, written: dict[str, Path], name: str
) -> None:
    """The documented way: `kubectl -n NS patch KIND NAME --patch-file FILE` on a live workload."""
    patches = sorted((written[name] / "workloads").glob("*.yaml"))
    patches = [p for p in patches if p.name != "kustomization.yaml"]
    assert patches
    for path in patches:
        (patch,) = _docs(path)
        meta = patch["metadata"]
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": meta["namespace"]}}
        cluster.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(ns))
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-",
                        input=json.dumps(_skeleton(patch)))  # fmt: skip
        cluster.kubectl("-n", meta["namespace"], "patch", patch["kind"].lower(), meta["name"],
                        "--patch-file", str(path))  # fmt: skip
        problems = _read_back(cluster, patch)
        assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_crds_come_from_the_pinned_modules(installed_crds: list[str]) -> None:
    assert sorted(installed_crds) == [
        "apparmorprofiles.security-profiles-operator.x-k8s.io",
        "clusterpolicies.kyverno.io",
        "podmonitors.monitoring.coreos.com",
        "prometheusrules.monitoring.coreos.com",
    ]
