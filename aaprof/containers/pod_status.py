"""Joining a cgroup-derived container with pod objects' statuses (`kubectl get pods -o json`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from aaprof.model.event import Container
from aaprof.model.pods import PodsRan, valid_pod

_STATUS_LISTS = ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses")

# `containerID` schemes, as kubelet writes them, to the runtime names `container_from_cgroup` uses.
_SCHEME_RUNTIMES = {"containerd": "containerd", "cri-o": "cri-o", "docker": "docker"}


def join_pod_status(container: Container, pods: Iterable[Mapping[str, object]]) -> Container:
    """`container` with its pod, namespace, container name and pod UID filled from pod objects.

    A container with an `id` is matched against every status's `containerID`
    (`<runtime>://<id>`) in `status.initContainerStatuses`, `containerStatuses` and
    `ephemeralContainerStatuses`; a pod whose UID contradicts a known `pod_uid` never matches.
    A container with only a `pod_uid` gets its pod's name and namespace, not a container name.
    The pod's values replace what `container` had (a profile name gives a workload, not a pod).

    Args:
        container: What the cgroup (and maybe the profile name) told.
        pods: Pod objects as mappings, e.g. the `items` of `kubectl get pods -A -o json`.

    Returns:
        The joined container, or `container` unchanged when no pod matches.
    """
    for pod in pods:
        if (joined := _join_one(container, pod)) is not None:
            return joined
    return container


def add_running(ran: PodsRan, pods: Iterable[Mapping[str, object]]) -> None:
    """Add the pods that were placed on a node (`spec.nodeName`) and did not stay `Pending` to
    `ran`, per node: a pod list (`kubectl get pods -A -o json`) as a source of replicas that
    ran, beside watch's lines (model.pods). Pods with names that are not Kubernetes names are
    left out."""
    found = False
    for pod in pods:
        metadata, spec = _mapping(pod.get("metadata")), _mapping(pod.get("spec"))
        node = _string(spec.get("nodeName"))
        name, namespace = _string(metadata.get("name")), _string(metadata.get("namespace"))
        found = True
        if node is None or _string(_mapping(pod.get("status")).get("phase")) == "Pending":
            continue
        if valid_pod(namespace, name) and namespace is not None and name is not None:
            ran.add(node, [(namespace, name)])
    if found:
        ran.read = True


def _join_one(container: Container, pod: Mapping[str, object]) -> Container | None:
    metadata = _mapping(pod.get("metadata"))
    uid = _string(metadata.get("uid"))
    if container.pod_uid and uid and uid != container.pod_uid:
        return None
    pod_name, namespace = _string(metadata.get("name")), _string(metadata.get("namespace"))
    if container.id is None:
        if container.pod_uid is None or uid != container.pod_uid:
            return None
        return Container(pod_uid=uid, pod=pod_name, namespace=namespace).merged(container)
    for status in _statuses(pod):
        scheme, _, cid = (_string(status.get("containerID")) or "").partition("://")
        if cid == container.id:
            return Container(
                id=cid,
                runtime=container.runtime or _SCHEME_RUNTIMES.get(scheme, scheme or None),
                pod_uid=uid or container.pod_uid,
                pod=pod_name,
                namespace=namespace,
                name=_string(status.get("name")),
            ).merged(container)
    return None


def _statuses(pod: Mapping[str, object]) -> Iterator[Mapping[str, object]]:
    status = _mapping(pod.get("status"))
    for key in _STATUS_LISTS:
        entries = status.get(key)
        if isinstance(entries, list):
            yield from (_mapping(entry) for entry in entries)


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _string(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
