"""Every manifest `aaprof policy` writes validates against Kubernetes' schemas (strict).

ValidatingAdmissionPolicy (+binding, v1): 1.30, the first with it GA, and the newest
kubernetes-validate knows. MutatingAdmissionPolicy (+binding): v1 against 1.36 and the newest,
v1beta1 against 1.34 and 1.35. Kyverno's ClusterPolicy is a CRD kubernetes-validate does not
know; its structure is checked by the policy tests that evaluate it.
"""

from __future__ import annotations

import pytest
import yaml

from aaprof.k8s.policy import make_spec, render_policies
from k8s.validate import _check_kubernetes

HOSTILE = ['a", "b', "p, q", "é😀", "sp ace"]


@pytest.mark.parametrize(
    ("file", "map_version", "versions"),
    [
        ("validating-admission-policy.yaml", "v1", ("1.30", "latest")),
        ("mutating-admission-policy.yaml", "v1", ("1.36", "latest")),
        ("mutating-admission-policy.yaml", "v1beta1", ("1.34", "1.35")),
    ],
)
def test_manifests_validate(file: str, map_version: str, versions: tuple[str, ...]) -> None:
    spec = make_spec(
        ["RuntimeDefault", *HOSTILE],
        HOSTILE[0],
        namespace_labels={"team": "a"},
        map_version=map_version,
    )
    docs = [d for d in yaml.safe_load_all(render_policies(spec)[file]) if d]
    assert len(docs) == 2
    for doc in docs:
        for version in versions:
            assert list(_check_kubernetes(doc, version)) == [], (doc["kind"], version)


def test_validation_catches_a_broken_policy() -> None:
    spec = make_spec(["k8s-a"], "k8s-a")
    doc = next(yaml.safe_load_all(render_policies(spec)["validating-admission-policy.yaml"]))
    doc["spec"]["validations"][0]["bogus"] = 1
    assert list(_check_kubernetes(doc, "1.30"))
    mutating = render_policies(spec)["mutating-admission-policy.yaml"]
    assert list(_check_kubernetes(next(yaml.safe_load_all(mutating)), "1.30"))  # not served
