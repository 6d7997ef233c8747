"""aaprof's profile naming scheme: `aaprof.<namespace>.<pod-or-workload>.<container>`."""

from __future__ import annotations

import functools
import re

from aaprof.errors import AaprofError
from aaprof.model.event import Container
from aaprof.model.labels import stack_members

PREFIX = "aaprof"

# The whole name is itself a DNS subdomain (so it can also be an SPO `AppArmorProfile`'s
# metadata.name), kept to 240 characters: apparmorfs names each loaded profile's directory
# `<name>.<counter>`, and a directory name over NAME_MAX (255) fails to load.
MAX_PROFILE_NAME = 240

_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
DNS_LABEL = re.compile(_LABEL)
DNS_SUBDOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_SCHEME = re.compile(
    rf"{PREFIX}\.(?P<namespace>{_LABEL})\.(?P<pod>{_LABEL}(?:\.{_LABEL})*)\.(?P<name>{_LABEL})"
)


def profile_name(namespace: str, pod: str, container: str) -> str:
    """The profile name aaprof gives the profile of one container of one pod or workload.

    Namespaces and container names are DNS labels (no dots), pod and workload names are DNS
    subdomains (dots allowed), so the first label after the prefix is always the namespace,
    the last is always the container, and the name parses back unambiguously.

    Args:
        namespace: The namespace (DNS label, at most 63 characters).
        pod: The pod's name, or the name of the workload whose pod template carries the profile
            (DNS subdomain, at most 253 characters).
        container: The container's name (DNS label).

    Returns:
        `aaprof.<namespace>.<pod>.<container>`.

    Raises:
        AaprofError: A part is not a valid Kubernetes name, or the name would exceed
            `MAX_PROFILE_NAME` characters (shorten the workload name).
    """
    _check("namespace", namespace, DNS_LABEL, 63)
    _check("pod", pod, DNS_SUBDOMAIN, 253)
    _check("container", container, DNS_LABEL, 63)
    name = f"{PREFIX}.{namespace}.{pod}.{container}"
    if len(name) > MAX_PROFILE_NAME:
        raise AaprofError(
            f"profile name {name!r} is {len(name)} characters, over the {MAX_PROFILE_NAME} "
            "a loaded AppArmor profile can have"
        )
    return name


def container_from_profile(name: str | None) -> Container | None:
    """The namespace, pod and container a profile name in aaprof's scheme stands for.

    A child profile or hat (`aaprof.ns.pod.ctr//null-/usr/bin/x`) belongs to its parent's
    container. Any other name (`cri-containerd.apparmor.d`, `crio-default`, a hand-written
    `k8s-nginx`, a name in a policy namespace `:ns:…`, which whoever owns that namespace may
    name as they like) gives None, never a guess. A stack (`aaprof.ns.pod.ctr//&unconfined`,
    `crio-default//&aaprof.ns.pod.ctr`) is the container its one member in the scheme names.

    Args:
        name: The `profile=` value of an AppArmor record.

    Returns:
        A Container with `namespace`, `pod` (the pod or workload name the profile was made
        for) and `name`, or None.
    """
    if not name:
        return None
    return _container_of(name)


@functools.lru_cache(maxsize=4096)
def _container_of(name: str) -> Container | None:
    # a stack (`a//&b`): the one member in the scheme names the container; two that name
    # different containers name none
    found = {c for part in stack_members(name) if (c := _member_container(part)) is not None}
    return found.pop() if len(found) == 1 else None


def _member_container(name: str) -> Container | None:
    base = name.split("//", 1)[0]
    match = _SCHEME.fullmatch(base)
    if match is None or len(base) > MAX_PROFILE_NAME or len(match["pod"]) > 253:
        return None
    return Container(namespace=match["namespace"], pod=match["pod"], name=match["name"])


def _check(what: str, value: str, pattern: re.Pattern[str], limit: int) -> None:
    if len(value) > limit or not pattern.fullmatch(value):
        rule = "lowercase letters, digits and '-'"
        if pattern is DNS_SUBDOMAIN:
            rule += " in labels joined by '.'"
        raise AaprofError(
            f"{what} {value!r} is not a valid Kubernetes name ({rule}, at most {limit} characters)"
        )
