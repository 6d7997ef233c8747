"""The profile naming scheme `aaprof.<namespace>.<pod>.<container>`: round trip and refusals."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from aaprof.containers.naming import MAX_PROFILE_NAME, container_from_profile, profile_name
from aaprof.errors import AaprofError
from aaprof.model.event import Container

# Kubernetes' own rules (apimachinery IsDNS1123Label / IsDNS1123Subdomain), written out here
# independently of the module under test.
labels = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")
subdomains = st.lists(labels, min_size=1, max_size=5).map(".".join).filter(lambda s: len(s) <= 253)


@given(labels, subdomains, labels)
def test_round_trip_for_every_valid_name(namespace: str, pod: str, container: str) -> None:
    expected_length = len("aaprof") + len(namespace) + len(pod) + len(container) + 3
    if expected_length > MAX_PROFILE_NAME:
        with pytest.raises(AaprofError, match="characters"):
            profile_name(namespace, pod, container)
        return
    name = profile_name(namespace, pod, container)
    assert len(name) == expected_length
    assert container_from_profile(name) == Container(namespace=namespace, pod=pod, name=container)


@given(labels, subdomains, labels)
def test_names_are_usable_everywhere(namespace: str, pod: str, container: str) -> None:
    assume(len(namespace) + len(pod) + len(container) + 9 <= MAX_PROFILE_NAME)
    name = profile_name(namespace, pod, container)
    # A DNS subdomain (so also an SPO AppArmorProfile metadata.name), and a bare AppArmor
    # profile name: no '/', ':', whitespace, quotes, '!' or ','.
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", name)
    assert len(name) <= 253


@given(labels, subdomains, labels, st.text(min_size=1))
def test_child_profiles_belong_to_the_parent(
    namespace: str, pod: str, container: str, child: str
) -> None:
    assume(len(namespace) + len(pod) + len(container) + 9 <= MAX_PROFILE_NAME)
    name = profile_name(namespace, pod, container)
    assert container_from_profile(f"{name}//{child}") == container_from_profile(name)


@given(st.text())
def test_anything_else_is_none_or_exactly_the_scheme(text: str) -> None:
    found = container_from_profile(text)
    if found is not None:
        assert found.namespace is not None
        assert found.pod is not None
        assert found.name is not None
        # a stack's one member in the scheme (model/labels.py: members split at `//&`)
        bases = {part.split("//", 1)[0] for part in text.split("//&")}
        assert profile_name(found.namespace, found.pod, found.name) in bases


@given(st.from_regex(r"\Aaaprof(\.[a-z0-9_-]{0,8}){0,5}\Z"))
def test_near_misses_are_none_or_exactly_the_scheme(text: str) -> None:
    found = container_from_profile(text)
    if found is None:
        return
    assert found.namespace is not None
    assert found.pod is not None
    assert found.name is not None
    assert profile_name(found.namespace, found.pod, found.name) == text


def test_examples() -> None:
    assert profile_name("default", "web", "nginx") == "aaprof.default.web.nginx"
    assert container_from_profile("aaprof.kube-system.coredns.v1.coredns") == Container(
        namespace="kube-system", pod="coredns.v1", name="coredns"
    )


@pytest.mark.parametrize(
    "name",
    [
        None,
        "",
        "cri-containerd.apparmor.d",
        "crio-default",
        "docker-default",
        "containers-default-0.50.1",
        "k8s-apparmor-example-deny-write",
        "unconfined",
        "/usr/sbin/nginx",
        "k8s_default_web_nginx",
        "aaprof.default.web",  # three parts: no container
        "aaprof.default.nginx",
        "aaprof..web.nginx",
        "aaprof.Default.web.nginx",
        "aaprof.default.web_1.nginx",
        "aaprof.default.web.nginx-",
        "aaprof.default.-web.nginx",
        "aaprof.default.web.nginx ",
        "xaaprof.default.web.nginx",
        "k8s.default.web.nginx",
        ":lxd:aaprof.default.web.nginx",
        "//aaprof.default.web.nginx",
        f"aaprof.{'n' * 64}.web.nginx",  # namespace over 63
        f"aaprof.default.web.{'c' * 64}",  # container over 63
        "aaprof.default." + ".".join(["p" * 60] * 4) + ".c",  # pod fits but the name is too long
    ],
)
def test_names_outside_the_scheme_are_none(name: str | None) -> None:
    assert container_from_profile(name) is None


@pytest.mark.parametrize(
    ("namespace", "pod", "container", "part"),
    [
        ("Default", "web", "nginx", "namespace"),
        ("my_ns", "web", "nginx", "namespace"),
        ("kube.system", "web", "nginx", "namespace"),  # a namespace is a label: no dots
        ("", "web", "nginx", "namespace"),
        ("n" * 64, "web", "nginx", "namespace"),
        ("default", "web..1", "nginx", "pod"),
        ("default", "-web", "nginx", "pod"),
        ("default", "web/1", "nginx", "pod"),
        ("default", "", "nginx", "pod"),
        ("default", "web", "nginx.v1", "container"),
        ("default", "web", "nginx ", "container"),
        ("default", "web", "c" * 64, "container"),
    ],
)
def test_invalid_parts_raise_naming_the_part(
    namespace: str, pod: str, container: str, part: str
) -> None:
    with pytest.raises(AaprofError, match=rf"^{part} "):
        profile_name(namespace, pod, container)
