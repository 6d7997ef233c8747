"""`aaprof policy`: the written admission policies, evaluated by a CEL library against pods.

The seed's cases: no policy allows anything; the default is set where none is given; a profile
outside the list, `Unconfined`, or a legacy annotation outside the list is refused; an allowed
profile is allowed. Hostile names cannot widen the list. Every manifest validates against the
Kubernetes schemas of its versions (kubernetes-validate).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from aaprof_cli import aaprof
from hypothesis import given
from hypothesis import strategies as st

from aaprof.errors import AaprofError
from aaprof.k8s.admission import Policies, Verdict, admit, collect
from aaprof.k8s.policy import cel_string, make_spec, render_policies, split_allowed

HOSTILE = ('a", "b', "x', 'y", "p, q", "sp ace", "é😀名", "back\\slash", "]+[", "' || true || '")
ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def _policies(allowed: list[str], default: str, **kw: Any) -> Policies:
    files = render_policies(make_spec(allowed, default, **kw))
    return collect([d for text in files.values() for d in yaml.safe_load_all(text) if d])


def _pod(
    container: dict[str, Any] | None = None,
    pod: dict[str, Any] | None = None,
    annotation: str | None = None,
    key: str = "containers",
    namespace: str = "default",
) -> dict[str, Any]:
    c: dict[str, Any] = {"name": "app", "image": "registry.invalid/app:1"}
    if container is not None:
        c["securityContext"] = {"appArmorProfile": container}
    spec: dict[str, Any] = {"containers": [{"name": "main", "image": "registry.invalid/app:1"}]}
    spec.setdefault(key, []).append(c)
    if pod is not None:
        spec["securityContext"] = {"appArmorProfile": pod}
    meta: dict[str, Any] = {"name": "p", "namespace": namespace}
    if annotation is not None:
        meta["annotations"] = {f"{ANNOTATION}app": annotation}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def _local(name: str) -> dict[str, str]:
    return {"type": "Localhost", "localhostProfile": name}


def _template(kind: str, pod: dict[str, Any]) -> dict[str, Any]:
    template = {"metadata": pod["metadata"], "spec": pod["spec"]}
    api = {"Job": "batch/v1", "CronJob": "batch/v1"}.get(kind, "apps/v1")
    spec: dict[str, Any] = {"template": template}
    if kind == "CronJob":
        spec = {"schedule": "@daily", "jobTemplate": {"spec": spec}}
    return {"apiVersion": api, "kind": kind, "metadata": {"name": "w"}, "spec": spec}


def _admit(policies: Policies, obj: dict[str, Any]) -> Verdict:
    return admit(policies, obj, {})


POLICIES = _policies(["k8s-a", "localhost/k8s-b", "RuntimeDefault"], "k8s-a")


def test_no_policy_allows_any_profile() -> None:
    for profile in (_local("anything"), {"type": "Unconfined"}):
        verdict = _admit(Policies(), _pod(profile))
        assert verdict.allowed and not verdict.mutated_by


def test_default_is_set_where_none_is_given() -> None:
    verdict = _admit(POLICIES, _pod())
    assert verdict.allowed, verdict.reasons
    assert verdict.mutated_by == ("aaprof-apparmor-default",)
    assert verdict.result["spec"]["securityContext"]["appArmorProfile"] == _local("k8s-a")
    with_context = _pod()
    with_context["spec"]["securityContext"] = {"runAsNonRoot": True}
    result = _admit(POLICIES, with_context).result["spec"]["securityContext"]
    assert result == {"runAsNonRoot": True, "appArmorProfile": _local("k8s-a")}


def test_default_leaves_given_profiles_alone() -> None:
    given_pod = _admit(POLICIES, _pod(pod=_local("k8s-b")))
    assert not given_pod.mutated_by
    annotated = _admit(POLICIES, _pod(annotation="localhost/k8s-b"))
    assert not annotated.mutated_by and annotated.allowed
    runtime = _policies(["RuntimeDefault"], "RuntimeDefault")
    result = _admit(runtime, _pod()).result
    assert result["spec"]["securityContext"]["appArmorProfile"] == {"type": "RuntimeDefault"}


@pytest.mark.parametrize("key", ["containers", "initContainers", "ephemeralContainers"])
def test_profile_outside_list_refused_allowed_allowed(key: str) -> None:
    refused = _admit(POLICIES, _pod(_local("k8s-other"), key=key))
    assert not refused.allowed
    assert refused.reasons == (
        "aaprof-apparmor: AppArmor profile(s) not in the allowed list: localhost/k8s-other",
    )
    assert _admit(POLICIES, _pod(_local("k8s-b"), key=key)).allowed
    assert _admit(POLICIES, _pod({"type": "RuntimeDefault"}, key=key)).allowed
    assert not _admit(POLICIES, _pod(pod=_local("k8s-other"))).allowed


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"])
def test_pod_templates_are_checked(kind: str) -> None:
    assert not _admit(POLICIES, _template(kind, _pod(_local("k8s-other")))).allowed
    assert not _admit(POLICIES, _template(kind, _pod(annotation="unconfined"))).allowed
    allowed = _admit(POLICIES, _template(kind, _pod(_local("k8s-a"))))
    assert allowed.allowed and not allowed.mutated_by  # templates are not mutated


def test_unconfined_is_refused_everywhere() -> None:
    for pod in (
        _pod({"type": "Unconfined"}),
        _pod(pod={"type": "Unconfined"}),
        _pod(annotation="unconfined"),
    ):
        verdict = _admit(POLICIES, pod)
        assert not verdict.allowed
        assert "aaprof-apparmor: AppArmor profile Unconfined is not allowed" in verdict.reasons


def test_legacy_annotation_cannot_bypass_the_list() -> None:
    # on the same container, the API server's own validation refuses the disagreement before
    # any policy runs (tests/cluster/test_admission.py shows the real one doing it)
    both = _admit(POLICIES, _pod(_local("k8s-a"), annotation="localhost/k8s-other"))
    assert not both.allowed and both.invalid
    assert both.reasons == (
        "spec.containers[1].securityContext.appArmorProfile.localhostProfile: Forbidden: "
        "apparmor profile in annotation and field must match",
    )
    # on a Pod template nothing is copied: the policy reads the annotation itself
    template = _admit(POLICIES, _template("Deployment", _pod(annotation="localhost/k8s-other")))
    assert template.reasons == (
        "aaprof-apparmor: AppArmor profile(s) in the legacy annotation not in the allowed "
        "list: localhost/k8s-other",
    )
    assert not _admit(POLICIES, _pod(annotation="localhost/k8s-other")).allowed
    assert not _admit(POLICIES, _pod(annotation="")).allowed
    assert _admit(POLICIES, _pod(annotation="runtime/default")).allowed


def test_hostile_names_cannot_widen_the_list() -> None:
    policies = _policies(list(HOSTILE), HOSTILE[0])
    for name in HOSTILE:
        assert _admit(policies, _pod(_local(name))).allowed, name
        assert _admit(policies, _pod(annotation=f"localhost/{name}")).allowed, name
    pieces = {"a", "b", "x", "y", "p", "q", "sp", "ace", "é", "back", "slash", "]", "[", "true"}
    pieces |= {'a"', '"b', "x'", "'y", "p,", " q", "", " ", "' || true || '"[1:]}
    for piece in sorted(pieces):
        assert not _admit(policies, _pod(_local(piece))).allowed, piece
        assert not _admit(policies, _pod(annotation=f"localhost/{piece}")).allowed, piece
    mutated = _admit(policies, _pod()).result["spec"]["securityContext"]["appArmorProfile"]
    assert mutated == _local(HOSTILE[0])


@given(st.text(max_size=30))
def test_cel_string_is_one_literal_of_the_value(value: str) -> None:
    import celpy

    literal = cel_string(value)
    assert literal.isascii()
    env = celpy.Environment()
    result: Any = env.program(env.compile(f"[{literal}]")).evaluate({})
    assert [str(v) for v in result] == [value]


def test_bad_choices_are_refused() -> None:
    with pytest.raises(AaprofError, match="Unconfined cannot be allowed"):
        make_spec(["Unconfined"], "Unconfined")
    with pytest.raises(AaprofError, match="not in the allowed list"):
        make_spec(["k8s-a"], "k8s-b")
    with pytest.raises(AaprofError, match="padded"):
        make_spec([" k8s-a"], " k8s-a")
    with pytest.raises(AaprofError, match="control"):
        make_spec(["a\nb"], "a\nb")
    with pytest.raises(AaprofError, match="not a Kubernetes name"):
        make_spec(["k8s-a"], "k8s-a", name="Bad Name")
    with pytest.raises(AaprofError, match="not a Kubernetes namespace"):
        make_spec(["k8s-a"], "k8s-a", exempt_namespaces=["kube_system"])


def test_exempt_and_selected_namespaces() -> None:
    exempt = _admit(POLICIES, _pod({"type": "Unconfined"}, namespace="kube-system"))
    assert exempt.allowed and not exempt.mutated_by
    labelled = _policies(["k8s-a"], "k8s-a", namespace_labels={"team": "a"}, exempt_namespaces=())
    pod = _pod(_local("k8s-other"), namespace="apps")
    assert admit(labelled, pod, {}).allowed
    assert not admit(labelled, pod, {"apps": {"team": "a"}}).allowed


def test_input_object_is_not_changed() -> None:
    pod = _pod()
    before = copy.deepcopy(pod)
    _admit(POLICIES, pod)
    assert pod == before


def test_cli_writes_and_tests(tmp_path: Path) -> None:
    out = tmp_path / "policy"
    done = aaprof("policy", "--allowed", "k8s-a", "--default", "k8s-a", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "kyverno-clusterpolicy.yaml",
        "mutating-admission-policy.yaml",
        "validating-admission-policy.yaml",
    ]
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    second = _pod(_local("k8s-a"))
    second["metadata"]["name"] = "q"  # the same name again would be an UPDATE of the first
    good.write_text(yaml.safe_dump_all([_pod(), second]))
    bad.write_text(yaml.safe_dump(_template("Deployment", _pod(annotation="localhost/k8s-x"))))
    assert aaprof("policy", "test", str(out), str(good)).returncode == 0
    refused = aaprof("policy", "test", str(out), str(good), str(bad))
    assert refused.returncode == 1
    assert "refused Deployment/w" in refused.stdout
    assert "legacy annotation not in the allowed list: localhost/k8s-x" in refused.stdout
    assert aaprof("policy", "test", str(tmp_path / "good.yaml"), str(bad)).returncode == 2


@pytest.mark.parametrize(
    ("value", "profiles"),
    [
        ("runtime/default,localhost/foo", ["runtime/default", "localhost/foo"]),
        ("localhost/a, localhost/b", ["localhost/a", "localhost/b"]),
        ("k8s-a", ["k8s-a"]),
        ("RuntimeDefault", ["RuntimeDefault"]),
        # a Localhost name holding a comma stays one name
        ("localhost/a, b", ["localhost/a, b"]),
        ("my,profile", ["my,profile"]),
        ("localhost/a,RuntimeDefault", ["localhost/a,RuntimeDefault"]),
        ("localhost/,runtime/default", ["localhost/,runtime/default"]),
    ],
)
def test_allowed_comma_lists(value: str, profiles: list[str]) -> None:
    assert split_allowed(value) == profiles


def test_cli_takes_a_psp_style_list(tmp_path: Path) -> None:
    listed = aaprof("policy", "--allowed", "runtime/default,localhost/k8s-a", "--default",
                     "k8s-a")  # fmt: skip
    repeated = aaprof("policy", "--allowed", "runtime/default", "--allowed", "localhost/k8s-a",
                       "--default", "k8s-a")  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == repeated.stdout


def test_cli_usage_and_errors() -> None:
    assert aaprof("policy", "--allowed", "k8s-a").returncode == 2
    done = aaprof("policy", "--allowed", "Unconfined", "--default", "Unconfined")
    assert done.returncode == 1
    assert done.stderr == "aaprof: Unconfined cannot be allowed: it runs without AppArmor\n"
    stdout = aaprof("policy", "--allowed", "k8s-a", "--default", "k8s-a").stdout
    kinds = [d["kind"] for d in yaml.safe_load_all(stdout) if d]
    assert kinds == [
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "ClusterPolicy",
    ]


def test_docs_example_policies_are_current() -> None:
    repo = Path(__file__).resolve().parents[2]
    spec = make_spec(["k8s-nginx", "k8s-redis", "RuntimeDefault"], "RuntimeDefault")
    for name, text in render_policies(spec).items():
        assert (repo / "docs/examples/policy" / name).read_text() == text, name


def test_kyverno_rules_carry_the_same_checks() -> None:
    files = render_policies(make_spec(["k8s-a", "RuntimeDefault"], "k8s-a"))
    (kyverno,) = [d for d in yaml.safe_load_all(files["kyverno-clusterpolicy.yaml"]) if d]
    validate, mutate = kyverno["spec"]["rules"]
    assert validate["exclude"]["any"][0]["resources"]["namespaces"] == ["kube-system"]
    vap = next(yaml.safe_load_all(files["validating-admission-policy.yaml"]))
    cel = validate["validate"]["cel"]
    # Kyverno's CEL, run through the evaluator as a ValidatingAdmissionPolicy
    as_vap = {**vap, "spec": {**vap["spec"], "variables": cel["variables"]}}
    as_vap["spec"]["validations"] = cel["expressions"]
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "spec": {"policyName": vap["metadata"]["name"]},
    }
    policies = collect([as_vap, binding])
    assert _admit(policies, _pod(_local("k8s-a"))).allowed
    assert not _admit(policies, _pod(_local("k8s-b"))).allowed
    assert not _admit(policies, _pod(_local("k8s-a"), annotation="unconfined")).allowed
    profile = mutate["mutate"]["patchStrategicMerge"]["spec"]["securityContext"]
    assert profile == {"+(appArmorProfile)": _local("k8s-a")}
