"""join_pod_status over `kubectl get pods -o json`-shaped pod objects."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from aaprof.containers.pod_status import join_pod_status
from aaprof.model.event import Container

WEB_UID = "0b2a4c1e-9f3d-4a7b-8c21-5e6f7a8b9c0d"
DB_UID = "a201f46d-151a-4701-8f24-314bea77df79"
APP, SIDECAR, INIT, DEBUG, PG = (
    hashlib.sha256(name.encode()).hexdigest() for name in ("app", "sidecar", "init", "debug", "pg")
)

KUBECTL_OUTPUT = json.dumps(
    {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "metadata": {"name": "web-7d4b9c-x2kqp", "namespace": "shop", "uid": WEB_UID},
                "status": {
                    "phase": "Running",
                    "initContainerStatuses": [
                        {"name": "migrate", "containerID": f"containerd://{INIT}"}
                    ],
                    "containerStatuses": [
                        {"name": "app", "containerID": f"containerd://{APP}", "ready": True},
                        {"name": "envoy", "containerID": f"containerd://{SIDECAR}"},
                        {"name": "waiting", "state": {"waiting": {"reason": "ContainerCreating"}}},
                    ],
                    "ephemeralContainerStatuses": [
                        {"name": "debugger-abcde", "containerID": f"containerd://{DEBUG}"}
                    ],
                },
            },
            {
                "metadata": {"name": "db-0", "namespace": "data", "uid": DB_UID},
                "status": {
                    "containerStatuses": [{"name": "postgres", "containerID": f"cri-o://{PG}"}]
                },
            },
            {"metadata": {"name": "pending", "namespace": "shop"}},  # no status yet
            {"metadata": "not a mapping", "status": {"containerStatuses": "nor a list"}},
        ],
    }
)
PODS: list[Mapping[str, object]] = json.loads(KUBECTL_OUTPUT)["items"]


def test_joins_a_regular_container() -> None:
    seen = Container(id=APP, runtime="containerd", pod_uid=WEB_UID)
    assert join_pod_status(seen, PODS) == Container(
        id=APP,
        runtime="containerd",
        pod_uid=WEB_UID,
        pod="web-7d4b9c-x2kqp",
        namespace="shop",
        name="app",
    )


def test_joins_init_and_ephemeral_containers() -> None:
    init = join_pod_status(Container(id=INIT), PODS)
    debug = join_pod_status(Container(id=DEBUG), PODS)
    assert (init.name, init.pod, init.pod_uid) == ("migrate", "web-7d4b9c-x2kqp", WEB_UID)
    assert (debug.name, debug.namespace) == ("debugger-abcde", "shop")


def test_runtime_comes_from_the_scheme_when_the_cgroup_did_not_say() -> None:
    joined = join_pod_status(Container(id=PG, pod_uid=DB_UID), PODS)
    assert (joined.runtime, joined.pod, joined.namespace, joined.name) == (
        "cri-o",
        "db-0",
        "data",
        "postgres",
    )


def test_pod_values_replace_a_workload_name_from_the_profile() -> None:
    seen = Container(id=APP, namespace="shop", pod="web", name="app")
    joined = join_pod_status(seen, PODS)
    assert joined.pod == "web-7d4b9c-x2kqp"


def test_contradicting_pod_uid_never_matches() -> None:
    seen = Container(id=APP, pod_uid=DB_UID)
    assert join_pod_status(seen, PODS) == seen


def test_unknown_id_is_returned_unchanged() -> None:
    seen = Container(id=hashlib.sha256(b"elsewhere").hexdigest(), runtime="containerd")
    assert join_pod_status(seen, PODS) == seen
    assert join_pod_status(seen, []) == seen


def test_pod_uid_alone_gives_pod_and_namespace_but_no_container_name() -> None:
    joined = join_pod_status(Container(pod_uid=DB_UID), PODS)
    assert joined == Container(pod_uid=DB_UID, pod="db-0", namespace="data")


def test_nothing_to_match_on_is_unchanged() -> None:
    seen = Container(namespace="shop", pod="web", name="app")
    assert join_pod_status(seen, PODS) == seen
