"""The differential admission table: manifests sent both to a real API server (with
`aaprof policy`'s policies installed) and to `aaprof policy test`, whose verdicts must agree.

Each case is one object created, or one object created and then updated (the second version
of the same kind, namespace and name in the stream is an UPDATE, as `aaprof policy test`
reads it).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from aaprof.k8s.bundle import WORKLOAD_KINDS

ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
# the allowed list: two plain names, a hostile one, RuntimeDefault; the default is k8s-nginx
HOSTILE = 'we"ird, name] \\back é'
ALLOWED = ("k8s-nginx", "k8s-redis", HOSTILE, "RuntimeDefault")
DEFAULT = "k8s-nginx"
NAMESPACES: dict[str, dict[str, str]] = {
    "apps": {"team": "shop"},  # policies apply (they bind namespaces labelled team=shop)
    "ops": {"team": "shop"},  # labelled, but exempt (EXEMPT)
    "kube-system": {},  # not bound: unlabelled (and exempt)
}
EXEMPT = ("kube-system", "ops")


@dataclass(frozen=True)
class Case:
    name: str
    versions: tuple[dict[str, Any], ...]  # one: a CREATE; two: CREATE then UPDATE

    @property
    def kind(self) -> str:
        return str(self.versions[0]["kind"])


def localhost(name: str) -> dict[str, str]:
    return {"type": "Localhost", "localhostProfile": name}


RUNTIME_DEFAULT = {"type": "RuntimeDefault"}
UNCONFINED = {"type": "Unconfined"}


def container(name: str = "app", profile: dict[str, str] | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "image": "registry.invalid/app:1"}
    if profile is not None:
        c["securityContext"] = {"appArmorProfile": profile}
    return c


def pod_spec(
    pod_profile: dict[str, str] | None = None,
    containers: list[dict[str, Any]] | None = None,
    init: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": containers or [container()]}
    if init:
        spec["initContainers"] = init
    if pod_profile is not None:
        spec["securityContext"] = {"appArmorProfile": pod_profile}
    return spec


def metadata(name: str, namespace: str, annotations: dict[str, str] | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        meta["annotations"] = annotations
    return meta


def pod(
    name: str,
    spec: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
    namespace: str = "apps",
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata(name, namespace, annotations),
        "spec": spec or pod_spec(),
    }


def workload(
    kind: str,
    name: str,
    spec: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
    namespace: str = "apps",
) -> dict[str, Any]:
    labels = {"app": name}
    template: dict[str, Any] = {"metadata": {"labels": labels}, "spec": spec or pod_spec()}
    if annotations:
        template["metadata"]["annotations"] = annotations
    if kind in {"Job", "CronJob"}:
        template["spec"] = {"restartPolicy": "Never", **template["spec"]}
    body: dict[str, Any]
    if kind == "Job":
        body = {"template": template}
    elif kind == "CronJob":
        body = {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template}}}
    else:
        body = {"selector": {"matchLabels": labels}, "template": template}
        if kind == "StatefulSet":
            body["serviceName"] = name
    return {
        "apiVersion": WORKLOAD_KINDS[kind],
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }


def template_of(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"]
    if obj["kind"] == "CronJob":
        return dict(spec["jobTemplate"]["spec"]["template"])
    return dict(spec["template"])


def changed(obj: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of workload OBJ whose pod template has a new spec and/or annotations."""
    new = copy.deepcopy(obj)
    template = template_of(new)
    if "spec" in changes:
        template["spec"].update(changes["spec"])
    if "annotations" in changes:
        template["metadata"]["annotations"] = changes["annotations"]
    if new["kind"] == "CronJob":
        new["spec"]["jobTemplate"]["spec"]["template"] = template
    else:
        new["spec"]["template"] = template
    return new


def _cases() -> list[Case]:
    cases: list[Case] = []

    def add(name: str, *versions: dict[str, Any]) -> None:
        cases.append(Case(name, versions))

    # -- Pods, CREATE ---------------------------------------------------------------------
    add("pod-no-profile", pod("p-none"))
    add("pod-runtime-default", pod("p-rd", pod_spec(RUNTIME_DEFAULT)))
    add("pod-allowed-localhost", pod("p-redis", pod_spec(localhost("k8s-redis"))))
    add("pod-other-localhost", pod("p-other", pod_spec(localhost("k8s-other"))))
    add("pod-unconfined", pod("p-unconf", pod_spec(UNCONFINED)))
    add("ctr-allowed", pod("c-redis", pod_spec(None, [container("app", localhost("k8s-redis"))])))
    add("ctr-other", pod("c-other", pod_spec(None, [container("app", localhost("host-daemon"))])))
    add("ctr-unconfined", pod("c-unconf", pod_spec(None, [container("app", UNCONFINED)])))
    add("ctr-runtime-default-pod-other", pod("c-mixed", pod_spec(
        localhost("k8s-other"), [container("app", RUNTIME_DEFAULT)])))  # fmt: skip
    add("init-other", pod("i-other", pod_spec(
        None, [container()], [container("init", localhost("k8s-other"))])))  # fmt: skip
    add("init-allowed", pod("i-ok", pod_spec(
        RUNTIME_DEFAULT, [container()], [container("init", localhost("k8s-nginx"))])))  # fmt: skip
    two = [container("a", localhost("k8s-redis")), container("b", localhost("k8s-other"))]
    add("two-containers-one-other", pod("two", pod_spec(None, two)))
    # the legacy annotation (the API server copies it into the field before validating)
    add("ann-allowed", pod("a-ok", annotations={ANNOTATION + "app": "localhost/k8s-redis"}))
    add("ann-other", pod("a-other", annotations={ANNOTATION + "app": "localhost/host-daemon"}))
    add("ann-unconfined", pod("a-unconf", annotations={ANNOTATION + "app": "unconfined"}))
    add("ann-runtime-default", pod("a-rd", annotations={ANNOTATION + "app": "runtime/default"}))
    add("ann-same-as-pod-field", pod("a-same", pod_spec(localhost("k8s-redis")),
        annotations={ANNOTATION + "app": "localhost/k8s-redis"}))  # fmt: skip
    # an annotation trying to bypass an allowed field: on the same container the API server
    # refuses the disagreement; on another container the policy refuses the annotation
    add("ann-bypass-same-container", pod("bypass1", pod_spec(None, [
        container("app", localhost("k8s-redis"))]),
        annotations={ANNOTATION + "app": "localhost/host-daemon"}))  # fmt: skip
    add("ann-bypass-other-container", pod("bypass2", pod_spec(None, [
        container("app", localhost("k8s-redis")), container("side")]),
        annotations={ANNOTATION + "side": "localhost/host-daemon"}))  # fmt: skip
    add("ann-bypass-pod-field", pod("bypass3", pod_spec(localhost("k8s-redis")),
        annotations={ANNOTATION + "app": "localhost/host-daemon"}))  # fmt: skip
    # hostile names: the exact hostile name is allowed, its pieces and look-alikes are not
    add("hostile-exact", pod("h-exact", pod_spec(localhost(HOSTILE))))
    add("hostile-piece-quote", pod("h-quote", pod_spec(localhost('we"ird'))))
    add("hostile-piece-after-comma", pod("h-comma", pod_spec(localhost("name] \\back é"))))
    add("hostile-quote-suffix", pod("h-suffix", pod_spec(localhost('k8s-nginx"'))))
    add("hostile-backslash", pod("h-bs", pod_spec(localhost("k8s-nginx\\"))))
    add("hostile-non-ascii", pod("h-uni", pod_spec(localhost("k8s-nginx\u00e9"))))
    add("hostile-bracket-comma", pod("h-br", pod_spec(localhost("k8s-nginx], k8s-redis"))))
    add("hostile-annotation", pod("h-ann", annotations={
        ANNOTATION + "app": 'localhost/we"ird, name] \\back é'}))  # fmt: skip
    add("padded-name", pod("h-pad", pod_spec(localhost(" k8s-nginx"))))
    add(
        "unselected-namespace-unconfined", pod("sys", pod_spec(UNCONFINED), namespace="kube-system")
    )
    add("unselected-namespace-plain", pod("sys-plain", namespace="kube-system"))
    add("exempt-namespace-unconfined", pod("ops", pod_spec(UNCONFINED), namespace="ops"))
    add("exempt-namespace-plain", pod("ops-plain", namespace="ops"))
    # -- workloads, CREATE ------------------------------------------------------------------
    add("deploy-allowed", workload("Deployment", "web", pod_spec(localhost("k8s-nginx"))))
    add("deploy-no-profile", workload("Deployment", "web-plain"))
    add("deploy-ann-other", workload("Deployment", "web-ann",
        annotations={ANNOTATION + "app": "localhost/host-daemon"}))  # fmt: skip
    add("sts-other", workload("StatefulSet", "db", pod_spec(None, [
        container("app", localhost("k8s-other"))])))  # fmt: skip
    add("sts-allowed", workload("StatefulSet", "db-ok", pod_spec(None, [
        container("app", localhost("k8s-redis"))])))  # fmt: skip
    add("ds-unconfined", workload("DaemonSet", "agent", pod_spec(UNCONFINED)))
    add("ds-runtime-default", workload("DaemonSet", "agent-ok", pod_spec(RUNTIME_DEFAULT)))
    add("rs-other", workload("ReplicaSet", "rs", pod_spec(localhost("k8s-other"))))
    add("rs-hostile-exact", workload("ReplicaSet", "rs-ok", pod_spec(localhost(HOSTILE))))
    add("job-init-unconfined", workload("Job", "job", pod_spec(
        None, [container()], [container("init", UNCONFINED)])))  # fmt: skip
    add("job-allowed", workload("Job", "job-ok", pod_spec(localhost("k8s-redis"))))
    add("cronjob-ann-unconfined", workload("CronJob", "cron",
        annotations={ANNOTATION + "app": "unconfined"}))  # fmt: skip
    add("cronjob-allowed", workload("CronJob", "cron-ok", pod_spec(RUNTIME_DEFAULT)))
    # -- UPDATEs ----------------------------------------------------------------------------
    web = workload("Deployment", "web-up", pod_spec(localhost("k8s-nginx")))
    add("deploy-update-to-other", web, changed(web, spec=pod_spec(localhost("k8s-other"))))
    web2 = workload("Deployment", "web-up2", pod_spec(localhost("k8s-nginx")))
    add("deploy-update-to-allowed", web2, changed(web2, spec=pod_spec(localhost("k8s-redis"))))
    sts = workload("StatefulSet", "db-up", pod_spec(RUNTIME_DEFAULT))
    add("sts-update-add-annotation", sts, changed(
        sts, annotations={ANNOTATION + "app": "localhost/host-daemon"}))  # fmt: skip
    cron = workload("CronJob", "cron-up", pod_spec(RUNTIME_DEFAULT))
    add("cronjob-update-to-unconfined", cron, changed(cron, spec=pod_spec(UNCONFINED)))
    p = pod("p-up", pod_spec(localhost("k8s-redis")))
    p2 = copy.deepcopy(p)
    p2["spec"]["securityContext"]["appArmorProfile"] = localhost("k8s-nginx")
    add("pod-update-profile", p, p2)
    p3 = pod("p-up-ann", pod_spec(localhost("k8s-redis")))
    p4 = copy.deepcopy(p3)
    p4["metadata"]["annotations"] = {ANNOTATION + "app": "localhost/host-daemon"}
    add("pod-update-add-annotation", p3, p4)
    p5 = pod("p-up-label", pod_spec(localhost("k8s-redis")))
    p6 = copy.deepcopy(p5)
    p6["metadata"]["labels"] = {"tier": "web"}
    add("pod-update-label-only", p5, p6)
    return cases


CASES = _cases()
