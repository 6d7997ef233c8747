"""Admission, differential: the real API server, with `aaprof policy`'s policies installed, and
`aaprof policy test` must give the same verdict on every case of admission_cases.CASES.

The API server is the reference. For each case it gets the manifests as a user's
`kubectl apply --server-side` would send them: a CREATE (`dryRun=All`), or, for an update, the
first version created for real and the second applied with `dryRun=All`. `aaprof policy test`
gets every case's manifests in one file. Compared: the outcome (allowed, refused by a policy,
invalid), the policy and message of a refusal (the API server reports the first failing
validation), the field errors of an invalid object, and what the admitted object says about
AppArmor (pod-level and container fields, legacy annotations) after mutation.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aaprof_cli import aaprof

from aaprof.k8s import podrules
from cluster.admission_cases import ALLOWED, CASES, DEFAULT, EXEMPT, NAMESPACES
from cluster.conftest import Cluster

_PATHS = {
    "Pod": "/api/v1/namespaces/{ns}/pods",
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
    "StatefulSet": "/apis/apps/v1/namespaces/{ns}/statefulsets",
    "DaemonSet": "/apis/apps/v1/namespaces/{ns}/daemonsets",
    "ReplicaSet": "/apis/apps/v1/namespaces/{ns}/replicasets",
    "Job": "/apis/batch/v1/namespaces/{ns}/jobs",
    "CronJob": "/apis/batch/v1/namespaces/{ns}/cronjobs",
}
DENIED = "denied request: "


class Api:
    """Server-side apply against the API server's REST API, with the admin's certificate."""

    def __init__(self, cluster: Cluster) -> None:
        self.server = cluster.plane.server
        pki = cluster.plane.pki
        self.ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.ctx.load_cert_chain(pki / "admin.crt", pki / "admin.key")

    def apply(self, obj: dict[str, Any], dry_run: bool) -> tuple[int, dict[str, Any]]:
        meta = obj["metadata"]
        path = _PATHS[obj["kind"]].format(ns=meta["namespace"]) + "/" + meta["name"]
        query = {"fieldManager": "aaprof-test", "force": "true"}
        if dry_run:
            query["dryRun"] = "All"
        request = urllib.request.Request(
            f"{self.server}{urllib.parse.quote(path)}?{urllib.parse.urlencode(query)}",
            data=json.dumps(obj).encode(),
            method="PATCH",
            headers={"Content-Type": "application/apply-patch+yaml"},
        )
        try:
            with urllib.request.urlopen(request, context=self.ctx, timeout=60) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")


def _apparmor(obj: dict[str, Any]) -> dict[str, Any]:
    """What OBJ says about AppArmor: fields by container (pod level: "") and annotations."""
    keys = podrules.template_path(obj)
    assert keys is not None
    template = obj
    for key in keys:
        template = template[key]
    meta = template.get("metadata") or {}
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if k.startswith(podrules.ANNOTATION_PREFIX)
    }
    return {"fields": podrules.profiles(template.get("spec")), "annotations": annotations}


def _server_verdict(status: int, body: dict[str, Any]) -> dict[str, Any]:
    if status in (200, 201):
        return {"outcome": "allowed", "apparmor": _apparmor(body)}
    message = str(body.get("message", ""))
    if body.get("reason") == "Invalid":
        causes = body.get("details", {}).get("causes") or []
        fields = sorted(str(c.get("field")) for c in causes)
        return {"outcome": "invalid", "fields": fields, "message": message}
    if DENIED in message:
        policy = message.split("'")[1]  # ValidatingAdmissionPolicy 'NAME' with binding ...
        return {"outcome": "refused", "reason": f"{policy}: {message.split(DENIED, 1)[1]}"}
    return {"outcome": f"error {status}", "message": message}


def _aaprof_verdict(verdict: dict[str, Any]) -> dict[str, Any]:
    if verdict["outcome"] == "allowed":
        return {"outcome": "allowed", "apparmor": _apparmor(verdict["result"])}
    if verdict["outcome"] == "invalid":
        fields = sorted(r.split(": ", 1)[0] for r in verdict["reasons"])
        return {"outcome": "invalid", "fields": fields, "message": "; ".join(verdict["reasons"])}
    return {"outcome": "refused", "reason": verdict["reasons"][0]}


def _comparable(verdict: dict[str, Any]) -> dict[str, Any]:
    """The parts compared (an invalid object's message wording is the API server's own)."""
    return {k: v for k, v in verdict.items() if k != "message"}


@pytest.fixture(scope="module")
def policies(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`aaprof policy`'s policies installed in the API server, and in effect, for this module.

    They bind only namespaces labelled `team=shop` (and never kube-system, the default
    exemption), so that the other tests of the session are not judged by them; they are
    removed when the module ends.
    """
    out = tmp_path_factory.mktemp("policy")
    args = ["policy", "--default", DEFAULT, "--out", str(out), "--namespace-label", "team=shop"]
    for namespace in EXEMPT:
        args += ["--exempt-namespace", namespace]
    for profile in ALLOWED:
        args += ["--allowed", profile]
    aaprof(*args, check=True)
    for name, labels in NAMESPACES.items():
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
        cluster.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(ns))
    files = [out / "validating-admission-policy.yaml", out / "mutating-admission-policy.yaml"]
    cluster.apply(files)
    wait_until_in_effect(cluster)
    yield out
    cluster.kubectl("delete", "--wait", *(f"--filename={f}" for f in files))


def wait_until_in_effect(cluster: Cluster, namespace: str = "apps") -> None:
    """Until the service accounts exist and both policies act on a probe pod in NAMESPACE (the
    API server loads policies asynchronously; this is the state the cases need, not a timing
    guess)."""
    api = Api(cluster)
    probe = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probe", "namespace": namespace},
        "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1"}]},
    }
    bad = json.loads(json.dumps(probe))
    bad["spec"]["securityContext"] = {"appArmorProfile": {"type": "Unconfined"}}
    deadline = time.monotonic() + 300
    last: Any = None
    while time.monotonic() < deadline:
        status, body = api.apply(probe, dry_run=True)
        mutated = status in (200, 201) and (body["spec"].get("securityContext") or {}).get(
            "appArmorProfile"
        )
        refused = api.apply(bad, dry_run=True)
        if mutated and refused[0] == 403 and DENIED in refused[1].get("message", ""):
            return
        last = (status, body.get("message"), refused[0], refused[1].get("message"))
        time.sleep(0.5)
    raise AssertionError(f"the policies did not take effect in 300 s: {last}")


def test_policies_type_check_clean(cluster: Cluster, policies: Path) -> None:
    """The API server's type checking of the validating policy's CEL finds nothing."""
    deadline = time.monotonic() + 120
    while True:
        vap = cluster.get_json("validatingadmissionpolicy", "aaprof-apparmor")
        status = vap.get("status") or {}
        if status.get("observedGeneration") == vap["metadata"]["generation"]:
            break
        assert time.monotonic() < deadline, "no type checking status after 120 s"
        time.sleep(0.5)
    assert (status.get("typeChecking") or {}).get("expressionWarnings") in (None, [])


def test_table_has_enough_cases() -> None:
    kinds = {c.kind for c in CASES}
    assert len(CASES) >= 40
    assert kinds == {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job",
                     "CronJob"}  # fmt: skip
    assert sum(len(c.versions) == 2 for c in CASES) >= 5
    assert len({c.versions[0]["metadata"]["name"] for c in CASES}) == len(CASES)


def test_api_server_and_policy_test_agree(cluster: Cluster, policies: Path, tmp_path: Path) -> None:
    api = Api(cluster)
    server: dict[str, dict[str, Any]] = {}
    for case in CASES:
        *before, last = case.versions
        for version in before:  # an update's first version, created for real
            status, body = api.apply(version, dry_run=False)
            assert status in (200, 201), f"{case.name}: creating the first version: {body}"
        server[case.name] = _server_verdict(*api.apply(last, dry_run=True))
    # aaprof policy test: every case's versions in one file, in the same order
    manifests = tmp_path / "cases.yaml"
    namespaces = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": labels}}
        for n, labels in NAMESPACES.items()
    ]
    docs = namespaces + [v for c in CASES for v in c.versions]
    manifests.write_text(yaml.safe_dump_all(docs, allow_unicode=True))
    done = aaprof("policy", "test", str(policies), str(manifests), "--format", "json", check=False)
    assert done.returncode in (0, 1), done.stderr
    verdicts = json.loads(done.stdout)
    assert len(verdicts) == sum(len(c.versions) for c in CASES)
    offline: dict[str, dict[str, Any]] = {}
    position = 0
    for case in CASES:
        position += len(case.versions)
        offline[case.name] = _aaprof_verdict(verdicts[position - 1])  # the last version's
    differences = {
        case.name: {"api-server": server[case.name], "aaprof policy test": offline[case.name]}
        for case in CASES
        if _comparable(server[case.name]) != _comparable(offline[case.name])
    }
    outcomes = sorted({v["outcome"] for v in server.values()})
    assert not differences, json.dumps(differences, indent=2, ensure_ascii=False)
    # the table exercises every outcome the API server can give
    assert outcomes == ["allowed", "invalid", "refused"]
