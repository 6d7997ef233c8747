"""`aaprof policy`: admission policies that restrict which AppArmor profiles pods may use.

Written: a ValidatingAdmissionPolicy and its binding (admissionregistration.k8s.io/v1, GA in
1.30) refusing pods and pod templates that name a profile outside the allowed list, or
`Unconfined`, anywhere: the pod's and each container's `appArmorProfile` field (containers,
init and ephemeral containers) and the legacy annotation; a MutatingAdmissionPolicy and binding
(v1 from 1.36, v1beta1 on 1.34-1.35) that sets the default profile on pods that give none; and
the same as Kyverno ClusterPolicies.

Profile names reach CEL only as string literals made by `cel_string`, the one escaping
function: whatever a name holds, it is one literal and cannot add an element to the list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aaprof.errors import AaprofError

ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
RUNTIME_DEFAULT = "runtime/default"
LOCALHOST = "localhost/"
MAP_VERSIONS = ("v1", "v1beta1")
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
FILES = {
    "validating": "validating-admission-policy.yaml",
    "mutating": "mutating-admission-policy.yaml",
    "kyverno": "kyverno-clusterpolicy.yaml",
}
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """What the policies allow and default to, in the annotation's canonical form
    (`runtime/default`, `localhost/NAME`), and where they apply."""

    allowed: tuple[str, ...]
    default: str
    name: str = "aaprof-apparmor"
    exempt_namespaces: tuple[str, ...] = ("kube-system",)
    namespace_labels: tuple[tuple[str, str], ...] = ()
    map_version: str = "v1"


def canonical(profile: str) -> str:
    """A profile as the user wrote it, in canonical form.

    `RuntimeDefault` or `runtime/default` → `runtime/default`; `localhost/NAME` or a bare
    `NAME` → `localhost/NAME`.

    Raises:
        AaprofError: `Unconfined` (never allowed), or a name Kubernetes would refuse (empty,
            padded with whitespace, control characters, not valid Unicode).
    """
    if profile in {"RuntimeDefault", RUNTIME_DEFAULT}:
        return RUNTIME_DEFAULT
    if profile.lower() == "unconfined":
        raise AaprofError("Unconfined cannot be allowed: it runs without AppArmor")
    name = profile.removeprefix(LOCALHOST)
    if not name or name != name.strip():
        raise AaprofError(f"profile {profile!r}: empty or padded with whitespace")
    if any(ord(c) < 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF for c in name):
        raise AaprofError(f"profile {profile!r}: control characters or invalid Unicode")
    return LOCALHOST + name


def split_allowed(value: str) -> list[str]:
    """One `--allowed` value as the profiles it names.

    PodSecurityPolicy's `allowedProfileNames` annotation, which users carry over, is a comma
    list (`runtime/default,localhost/foo`): it is split where every element (spaces around it
    dropped) is `runtime/default` or `localhost/NAME`. Anything else is one profile, so a
    Localhost name holding a comma (`localhost/a, b`, `my,profile`) stays whole.
    """
    parts = [p.strip() for p in value.split(",")]
    if len(parts) > 1 and all(
        p == RUNTIME_DEFAULT or (p.startswith(LOCALHOST) and p != LOCALHOST) for p in parts
    ):
        return parts
    return [value]


def cel_string(value: str) -> str:
    """`value` as one CEL string literal (double-quoted).

    Backslash and `"` are escaped; everything but printable ASCII becomes `\\uXXXX` or
    `\\UXXXXXXXX`, so the literal is plain ASCII and nothing in `value` can end it.

    Raises:
        AaprofError: `value` holds a lone surrogate (CEL strings are Unicode text).
    """
    out = ['"']
    for char in value:
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            raise AaprofError(f"{value!r}: not valid Unicode")
        if char in {"\\", '"'}:
            out.append("\\" + char)
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _canon(p: str) -> str:
    """CEL: an `appArmorProfile` object (expression `p`) in canonical form."""
    return (
        f"{p}.type == 'RuntimeDefault' ? 'runtime/default' : "
        f"{p}.type == 'Localhost' ? 'localhost/' + "
        f"(has({p}.localhostProfile) ? {p}.localhostProfile : '') : "
        f"{p}.type == 'Unconfined' ? 'unconfined' : {p}.type"
    )


def variables(spec: PolicySpec) -> list[tuple[str, str]]:
    """The validating policy's CEL variables, in order (each may use the ones before)."""
    allowed = "[" + ", ".join(cel_string(p) for p in spec.allowed) + "]"
    pod_level = "variables.pod.spec.securityContext"
    containers = " + ".join(
        f"(has(variables.pod.spec.{k}) ? variables.pod.spec.{k} : [])"
        for k in ("containers", "initContainers", "ephemeralContainers")
    )
    return [
        ("allowed", allowed),
        (
            "pod",
            "object.kind == 'Pod' ? dyn(object) : object.kind == 'CronJob' ? "
            "dyn(object.spec.jobTemplate.spec.template) : dyn(object.spec.template)",
        ),
        ("containers", containers),
        (
            "annotations",
            "has(variables.pod.metadata) && has(variables.pod.metadata.annotations) ? "
            "dyn(variables.pod.metadata.annotations) : dyn({})",
        ),
        (
            "fieldProfiles",
            f"(has(variables.pod.spec.securityContext) && has({pod_level}.appArmorProfile) ? "
            f"[{_canon(pod_level + '.appArmorProfile')}] : []) + "
            "variables.containers.filter(c, has(c.securityContext) && "
            "has(c.securityContext.appArmorProfile))"
            f".map(c, {_canon('c.securityContext.appArmorProfile')})",
        ),
        (
            "annotationProfiles",
            f"variables.annotations.filter(k, k.startsWith({cel_string(ANNOTATION_PREFIX)}))"
            ".map(k, variables.annotations[k])",
        ),
    ]


def validations() -> list[dict[str, str]]:
    """The validating policy's checks: Unconfined anywhere, then fields, then annotations."""
    refused = "variables.{0}.filter(p, !(p in variables.allowed))"
    return [
        {
            "expression": "!(variables.fieldProfiles + variables.annotationProfiles)"
            ".exists(p, p == 'unconfined')",
            "message": "AppArmor profile Unconfined is not allowed",
            "reason": "Forbidden",
        },
        {
            "expression": "variables.fieldProfiles.all(p, p in variables.allowed)",
            "messageExpression": "'AppArmor profile(s) not in the allowed list: ' + "
            + refused.format("fieldProfiles")
            + ".join(', ')",
            "reason": "Forbidden",
        },
        {
            "expression": "variables.annotationProfiles.all(p, p in variables.allowed)",
            "messageExpression": "'AppArmor profile(s) in the legacy annotation not in the "
            "allowed list: ' + " + refused.format("annotationProfiles") + ".join(', ')",
            "reason": "Forbidden",
        },
    ]


def default_condition() -> str:
    """CEL: the pod gives no profile at pod level and no legacy annotation (the API server
    refuses a pod-level field that disagrees with a container's annotation)."""
    return (
        "!(has(object.spec.securityContext) && has(object.spec.securityContext.appArmorProfile))"
        " && !(has(object.metadata.annotations) && object.metadata.annotations.exists(k, "
        f"k.startsWith({cel_string(ANNOTATION_PREFIX)})))"
    )


def default_patch(default: str) -> str:
    """CEL: the JSON patch that sets the pod-level default profile."""
    kind = "RuntimeDefault" if default == RUNTIME_DEFAULT else "Localhost"
    fields = f"type: {cel_string(kind)}"
    if kind == "Localhost":
        fields += f", localhostProfile: {cel_string(default.removeprefix(LOCALHOST))}"
    profile = f"Object.spec.securityContext.appArmorProfile{{{fields}}}"
    return (
        "has(object.spec.securityContext) ? "
        '[JSONPatch{op: "add", path: "/spec/securityContext/appArmorProfile", '
        f"value: {profile}}}] : "
        '[JSONPatch{op: "add", path: "/spec/securityContext", '
        f"value: Object.spec.securityContext{{appArmorProfile: {profile}}}}}]"
    )


def make_spec(
    allowed: Sequence[str],
    default: str,
    *,
    name: str = "aaprof-apparmor",
    exempt_namespaces: Sequence[str] = ("kube-system",),
    namespace_labels: Mapping[str, str] | None = None,
    map_version: str = "v1",
) -> PolicySpec:
    """Check and canonicalise the user's choices.

    Raises:
        AaprofError: no profile allowed, Unconfined, a bad name, a default outside the list.
    """
    if not allowed:
        raise AaprofError("no profile allowed: give --allowed at least once")
    names = tuple(dict.fromkeys(canonical(p) for p in allowed))
    chosen = canonical(default)
    if chosen not in names:
        raise AaprofError(f"the default {default!r} is not in the allowed list")
    from aaprof.containers.naming import DNS_LABEL, DNS_SUBDOMAIN

    # `-default` is appended for the mutating policy's name
    if not DNS_SUBDOMAIN.fullmatch(name) or len(name) > 245:
        raise AaprofError(f"policy name {name!r} is not a Kubernetes name (a DNS subdomain)")
    for namespace in exempt_namespaces:
        if not DNS_LABEL.fullmatch(namespace):
            raise AaprofError(f"namespace {namespace!r} is not a Kubernetes namespace name")
    if map_version not in MAP_VERSIONS:
        raise AaprofError(f"MutatingAdmissionPolicy version {map_version!r}: use v1 or v1beta1")
    labels = tuple(sorted((namespace_labels or {}).items()))
    return PolicySpec(names, chosen, name, tuple(exempt_namespaces), labels, map_version)


def render_policies(spec: PolicySpec) -> dict[str, str]:
    """The policy files: file name → YAML (see FILES)."""
    from aaprof.k8s.templates import render

    context = {
        "name": spec.name,
        "allowed": spec.allowed,
        "default": spec.default,
        "default_type": "RuntimeDefault" if spec.default == RUNTIME_DEFAULT else "Localhost",
        "default_name": spec.default.removeprefix(LOCALHOST),
        "variables": variables(spec),
        "validations": validations(),
        "default_condition": default_condition(),
        "default_patch": default_patch(spec.default),
        "exempt": spec.exempt_namespaces,
        "labels": spec.namespace_labels,
        "map_version": spec.map_version,
        "kinds": WORKLOAD_KINDS,
        "annotation_prefix": ANNOTATION_PREFIX,
    }
    return {
        FILES["validating"]: render("policy-validating.yaml.j2", context),
        FILES["mutating"]: render("policy-mutating.yaml.j2", context),
        FILES["kyverno"]: render("policy-kyverno.yaml.j2", context),
    }
