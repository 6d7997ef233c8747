"""Evaluating admission policies offline: `aaprof policy test`.

The ValidatingAdmissionPolicies and MutatingAdmissionPolicies in a directory are applied to
manifests as the API server would on CREATE or UPDATE: a binding's namespace selector (the
namespace's labels: `kubernetes.io/metadata.name`, and those of Namespace objects among the
manifests), the policy's resource rules and match conditions, then every mutation (JSON
patches), then the API server's own handling of the AppArmor fields and annotations
(`podrules`: a Pod's legacy annotations copied into its fields, their validation), then every
validation. The CEL is evaluated by cel-python (`celpy`), with the two pieces of Kubernetes'
CEL environment these policies use: `list.join(sep)` and typed object construction
(`Object.spec.x{...}`, `JSONPatch{...}`), which builds plain maps.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aaprof.errors import AaprofError
from aaprof.k8s import podrules

_RESOURCES = {
    "Pod": ("", "pods"),
    "Deployment": ("apps", "deployments"),
    "StatefulSet": ("apps", "statefulsets"),
    "DaemonSet": ("apps", "daemonsets"),
    "ReplicaSet": ("apps", "replicasets"),
    "Job": ("batch", "jobs"),
    "CronJob": ("batch", "cronjobs"),
}
POD_KINDS = frozenset(_RESOURCES)
_API = "admissionregistration.k8s.io/"
# a CEL string literal (skipped) or a typed object construction's type name before `{`
_TOKENS = re.compile(
    r"""(?P<str>[rRbB]*(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'))"""
    r"|(?P<obj>\bObject(?:\s*\.\s*[A-Za-z_]\w*)*\s*\{)"
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """One manifest object: allowed or not, why not, and what the mutations changed.

    `invalid`: refused by the API server's own validation (`podrules`), before the validating
    policies ran; `reasons` are then its field errors. Otherwise `reasons` are the policies'
    messages, in their order (the API server reports the first).
    """

    name: str
    allowed: bool
    reasons: tuple[str, ...] = ()
    mutated_by: tuple[str, ...] = ()
    result: Mapping[str, Any] = field(default_factory=dict)
    operation: str = "CREATE"
    invalid: bool = False

    @property
    def outcome(self) -> str:
        return "allowed" if self.allowed else "invalid" if self.invalid else "refused"

    def to_dict(self) -> dict[str, object]:
        return {
            "object": self.name,
            "operation": self.operation,
            "outcome": self.outcome,
            "allowed": self.allowed,
            "reasons": list(self.reasons),
            "mutated_by": list(self.mutated_by),
            "result": dict(self.result),
        }


@dataclass(frozen=True, slots=True)
class Policies:
    """The admission policies of a directory and their bindings."""

    validating: tuple[dict[str, Any], ...] = ()
    mutating: tuple[dict[str, Any], ...] = ()
    bindings: tuple[dict[str, Any], ...] = ()


def collect(objects: Sequence[Mapping[str, Any]]) -> Policies:
    """Sort a directory's objects into policies and bindings (other kinds are ignored)."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        if str(obj.get("apiVersion", "")).startswith(_API):
            by_kind.setdefault(str(obj.get("kind")), []).append(dict(obj))
    return Policies(
        tuple(by_kind.get("ValidatingAdmissionPolicy", ())),
        tuple(by_kind.get("MutatingAdmissionPolicy", ())),
        tuple(
            by_kind.get("ValidatingAdmissionPolicyBinding", [])
            + by_kind.get("MutatingAdmissionPolicyBinding", [])
        ),
    )


def admit(
    policies: Policies,
    obj: Mapping[str, Any],
    namespaces: Mapping[str, Any],
    old: Mapping[str, Any] | None = None,
) -> Verdict:
    """What the API server would do with `obj` on CREATE, or on UPDATE of `old`.

    Args:
        policies: the policies and bindings.
        obj: the object (not changed).
        namespaces: namespace name → its labels (for the bindings' selectors).
        old: the object as stored (after its own admission), for an UPDATE.

    Raises:
        AaprofError: cel-python is missing, or a policy's CEL does not compile or evaluate.
    """
    meta = obj.get("metadata") or {}
    name = f"{obj.get('kind')}/{meta.get('name', '?')}"
    operation = "CREATE" if old is None else "UPDATE"
    current: dict[str, Any] = copy.deepcopy(dict(obj))
    labels = _namespace_labels(str(meta.get("namespace") or "default"), namespaces)
    mutated: list[str] = []
    for policy in policies.mutating:
        if not _applies(policies, policy, current, labels, operation):
            continue
        spec = policy.get("spec") or {}
        if not all(
            _eval(c["expression"], current, {}, old) is True
            for c in spec.get("matchConditions") or ()
        ):
            continue
        for mutation in spec.get("mutations") or ():
            if mutation.get("patchType") != "JSONPatch":
                raise AaprofError(f"{_name(policy)}: only JSONPatch mutations are evaluated")
            patches = _eval(mutation["jsonPatch"]["expression"], current, {}, old)
            current = _apply_patches(current, patches, _name(policy))
        mutated.append(_name(policy))
    if operation == "CREATE" and current.get("kind") == "Pod":
        podrules.sync_annotations(current)
    invalid = podrules.validation_errors(current, old)
    if invalid:
        return Verdict(name, False, tuple(invalid), tuple(mutated), current, operation, True)
    reasons: list[str] = []
    for policy in policies.validating:
        if not _applies(policies, policy, current, labels, operation):
            continue
        spec = policy.get("spec") or {}
        if not all(
            _eval(c["expression"], current, {}, old) is True
            for c in spec.get("matchConditions") or ()
        ):
            continue
        variables: dict[str, Any] = {}
        for var in spec.get("variables") or ():
            variables[var["name"]] = _eval(var["expression"], current, variables, old)
        for check in spec.get("validations") or ():
            if _eval(check["expression"], current, variables, old) is True:
                continue
            message = check.get("message") or f"failed: {check['expression']}"
            if check.get("messageExpression"):
                message = str(_eval(check["messageExpression"], current, variables, old))
            reasons.append(f"{_name(policy)}: {message}")
    return Verdict(name, not reasons, tuple(reasons), tuple(mutated), current, operation)


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", "?"))


def _namespace_labels(namespace: str, namespaces: Mapping[str, Any]) -> dict[str, str]:
    labels = {str(k): str(v) for k, v in (namespaces.get(namespace) or {}).items()}
    labels["kubernetes.io/metadata.name"] = namespace
    return labels


def _applies(
    policies: Policies,
    policy: Mapping[str, Any],
    obj: Mapping[str, Any],
    labels: Mapping[str, str],
    operation: str,
) -> bool:
    kind = str(obj.get("kind"))
    if kind not in _RESOURCES:
        return False
    group, resource = _RESOURCES[kind]
    rules = ((policy.get("spec") or {}).get("matchConstraints") or {}).get("resourceRules") or ()
    if not any(_rule_matches(rule, group, resource, operation) for rule in rules):
        return False
    bound = [
        b for b in policies.bindings if (b.get("spec") or {}).get("policyName") == _name(policy)
    ]
    for binding in bound:
        if binding.get("kind", "").removesuffix("Binding") != policy.get("kind"):
            continue
        selector = ((binding.get("spec") or {}).get("matchResources") or {}).get(
            "namespaceSelector"
        )
        if selector is None or selects(selector, labels):
            return True
    return False


def _rule_matches(rule: Mapping[str, Any], group: str, resource: str, operation: str) -> bool:
    def has(key: str, value: str) -> bool:
        values = rule.get(key) or ()
        return "*" in values or value in values

    return has("apiGroups", group) and has("resources", resource) and has("operations", operation)


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels, matchExpressions) against labels."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or ():
        key, op, values = expr["key"], expr["operator"], expr.get("values") or ()
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }.get(op)
        if ok is None:
            raise AaprofError(f"label selector operator {op!r} unknown")
        if not ok:
            return False
    return True


def _eval(
    expression: str,
    obj: Mapping[str, Any],
    variables: Mapping[str, Any],
    old: Mapping[str, Any] | None = None,
) -> Any:
    celpy = _celpy()
    import celpy.celtypes as ct

    rewritten = _TOKENS.sub(lambda m: m["str"] or "Object{", expression)
    env = celpy.Environment()
    try:
        program = env.program(env.compile(rewritten), functions={"join": _join})
        activation = {
            "object": celpy.json_to_cel(dict(obj)),
            "oldObject": celpy.json_to_cel(dict(old)) if old is not None else None,
            "variables": celpy.json_to_cel(dict(variables)),
            "Object": ct.MapType,
            "JSONPatch": ct.MapType,
        }
        value = program.evaluate(activation)
    except celpy.CELParseError as exc:
        raise AaprofError(f"CEL does not parse: {expression}: {exc}") from None
    except celpy.CELEvalError as exc:
        raise AaprofError(f"CEL fails: {expression}: {exc.args[0] if exc.args else exc}") from None
    if isinstance(value, celpy.CELEvalError):
        raise AaprofError(f"CEL fails: {expression}: {value.args[0] if value.args else value}")
    return _plain(value)


def _join(items: Any, sep: Any = "") -> Any:
    import celpy.celtypes as ct

    return ct.StringType(str(sep).join(str(i) for i in items))


def _plain(value: Any) -> Any:
    """A CEL value as plain JSON-like Python (bool before int: BoolType is not an int)."""
    import celpy.celtypes as ct

    if isinstance(value, ct.BoolType):
        return bool(value)
    if isinstance(value, ct.MapType | dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, ct.ListType | list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, ct.StringType | str):
        return str(value)
    if isinstance(value, ct.IntType | ct.UintType | int):
        return int(value)
    if isinstance(value, ct.DoubleType | float):
        return float(value)
    return value


def _apply_patches(obj: dict[str, Any], patches: Any, policy: str) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    for patch in patches or ():
        op, path = patch.get("op"), str(patch.get("path", ""))
        parts = [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]
        if not parts:
            raise AaprofError(f"{policy}: JSON patch path {path!r}")
        parent: Any = out
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent.get(part)
            if parent is None:
                raise AaprofError(f"{policy}: JSON patch path {path!r} does not exist")
        last = parts[-1]
        if op in {"add", "replace"}:
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if op == "add":
                    parent.insert(index, patch.get("value"))
                else:
                    parent[index] = patch.get("value")
            else:
                parent[last] = patch.get("value")
        elif op == "remove":
            del parent[int(last) if isinstance(parent, list) else last]
        else:
            raise AaprofError(f"{policy}: JSON patch op {op!r} is not evaluated")
    return out


def _celpy() -> Any:
    try:
        import celpy
    except ImportError:
        raise AaprofError(
            "evaluating CEL needs cel-python, a dependency of aaprof: pip install cel-python"
        ) from None
    return celpy
