"""The Kubernetes bundle `aaprof generate` writes into DIR/k8s/: patches, loader, SPO profiles."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aaprof.containers.naming import DNS_LABEL, DNS_SUBDOMAIN, container_from_profile
from aaprof.errors import AaprofError
from aaprof.k8s.image import DEFAULT_IMAGE, check_image

if TYPE_CHECKING:
    from aaprof.k8s.spo import SpoAbstract

LOADER_NAME = "aaprof-loader"
MODES = ("complain", "enforce")
# kind -> apiVersion of the workloads whose pod template a patch can set.
WORKLOAD_KINDS = {
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "ReplicaSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
}
# A ConfigMap holds at most 1 MiB (etcd's object limit); leave room for the metadata.
CONFIGMAP_LIMIT = 1_000_000
_CONFIGMAP_KEY = re.compile(r"[-._a-zA-Z0-9]{1,253}")
_LABELS = (
    ("app.kubernetes.io/name", LOADER_NAME),
    ("app.kubernetes.io/part-of", "aaprof"),
)


@dataclass(frozen=True, slots=True)
class Target:
    """One container of one workload, and the profile it is to run under.

    Raises:
        AaprofError: A name is not a valid Kubernetes name, the kind is not a workload kind
            with a pod template, or the profile name is not a valid `localhostProfile`.
    """

    namespace: str
    workload: str
    container: str
    profile: str
    kind: str = "Deployment"

    def __post_init__(self) -> None:
        _check_name("namespace", self.namespace, DNS_LABEL, 63)
        _check_name("workload", self.workload, DNS_SUBDOMAIN, 253)
        _check_name("container", self.container, DNS_LABEL, 63)
        if self.kind not in WORKLOAD_KINDS:
            kinds = ", ".join(WORKLOAD_KINDS)
            raise AaprofError(f"workload kind {self.kind!r} is not one of {kinds}")
        _check_profile_name(self.profile)


def targets_for(profile_names: Iterable[str], *, kind: str = "Deployment") -> tuple[Target, ...]:
    """The targets that profile names in aaprof's scheme stand for, sorted.

    A name outside the scheme (`k8s-nginx`) or a child profile (`a//b`) stands for no
    container: it is loaded by the bundle but set on no workload.

    Args:
        profile_names: Profile names, e.g. the keys of the profiles to render.
        kind: The workload kind the middle part of each name names.
    """
    targets = set()
    for name in profile_names:
        container = container_from_profile(name)
        if container is None or "//" in name or container.namespace is None:
            continue
        if container.pod is None or container.name is None:
            continue
        targets.add(Target(container.namespace, container.pod, container.name, name, kind))
    return tuple(sorted(targets, key=_target_key))


def configmap_key(profile: str) -> str:
    """The ConfigMap key (and loader file name) of a profile: the name itself when it is a
    valid key, else `profile-<sha256 prefix>` (keys allow only `-._a-zA-Z0-9`)."""
    if _CONFIGMAP_KEY.fullmatch(profile) and profile not in (".", ".."):
        return profile
    return "profile-" + hashlib.sha256(profile.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def render_bundle(
    profiles: Mapping[str, str],
    targets: Iterable[Target],
    *,
    namespace: str = "kube-system",
    legacy_annotation: bool = False,
    spo: bool = True,
    mode: str = "complain",
    image: str = DEFAULT_IMAGE,
    interval: int = 30,
) -> dict[str, str]:
    """Render the Kubernetes bundle: relative path under DIR/k8s/ → file content.

    The same arguments always give the same bytes.

    Args:
        profiles: Profile name → profile file text, every profile the loader is to load.
        targets: The containers to set a profile on; each one's profile must be in `profiles`.
        namespace: Where the loader's ConfigMap and DaemonSet go.
        legacy_annotation: Also set the deprecated pod-template annotation
            `container.apparmor.security.beta.kubernetes.io/<container>` (clusters < 1.30).
        spo: Also write `spo/`: an SPO `AppArmorProfile` per profile its schema can express.
        mode: "complain" (the loader forces complain mode, SPO `Complain`) or "enforce"
            (the profiles' own flags stand, SPO `Enforce`).
        image: The loader's image (aaprof.k8s.image.DEFAULT_IMAGE: the one `./dev.sh image`
            builds).
        interval: Seconds between the loader's checks of the ConfigMap.

    Raises:
        AaprofError: An invalid name, mode, image or interval; a target whose profile is not
            given; two profiles for one container; profiles too large for one ConfigMap.
    """
    from aaprof.k8s.templates import render

    _check_options(profiles, namespace, mode, image, interval)
    targets = tuple(sorted(set(targets), key=_target_key))
    _check_targets(profiles, targets)
    names = sorted(profiles)
    files = _loader_files(profiles, names, namespace, mode, image, interval)
    patches = _patch_files(targets, legacy_annotation)
    files.update({path: text for path, (text, _) in patches.items()})
    skipped: list[tuple[str, str]] = []
    components: list[str] = []
    if patches:
        files["workloads/kustomization.yaml"] = render(
            "workloads-component.yaml.j2",
            {"patches": [entry for _, entry in patches.values()]},
        )
        components.append("workloads")
    if spo:
        skipped = _spo_files(profiles, names, mode, files)
    targeted = {t.profile for t in targets}
    files["kustomization.yaml"] = render(
        "kustomization.yaml.j2",
        {
            "mode": mode,
            "resources": ["loader/configmap.yaml", "loader/daemonset.yaml"],
            "components": components,
            "untargeted": [n for n in names if n not in targeted],
            "spo_skipped": skipped,
        },
    )
    return dict(sorted(files.items()))


def _loader_files(
    profiles: Mapping[str, str],
    names: list[str],
    namespace: str,
    mode: str,
    image: str,
    interval: int,
) -> dict[str, str]:
    from aaprof.k8s.templates import render, template_dir

    entries = [{"name": n, "key": configmap_key(n), "text": profiles[n]} for n in names]
    checksum = hashlib.sha256()
    for entry in entries:
        for part in (entry["key"], entry["text"]):
            data = part.encode("utf-8", "surrogatepass")
            checksum.update(len(data).to_bytes(8, "big") + data)
    common = {"namespace": namespace, "labels": _LABELS, "configmap": f"{LOADER_NAME}-profiles"}
    script = (template_dir() / "loader.sh").read_text(encoding="utf-8")
    return {
        "loader/configmap.yaml": render(
            "configmap.yaml.j2", {**common, "name": common["configmap"], "profiles": entries}
        ),
        "loader/daemonset.yaml": render(
            "daemonset.yaml.j2",
            {
                **common,
                "name": LOADER_NAME,
                "image": image,
                "mode": mode,
                "interval": str(interval),
                "script": script,
                "checksum": checksum.hexdigest(),
                "priority_class": "system-node-critical" if namespace == "kube-system" else "",
            },
        ),
    }


def _patch_files(
    targets: tuple[Target, ...], legacy_annotation: bool
) -> dict[str, tuple[str, dict[str, str]]]:
    from aaprof.k8s.templates import render

    by_workload: dict[tuple[str, str, str], list[Target]] = {}
    for target in targets:
        by_workload.setdefault((target.namespace, target.kind, target.workload), []).append(target)
    out: dict[str, tuple[str, dict[str, str]]] = {}
    for (namespace, kind, workload), members in sorted(by_workload.items()):
        api_version = WORKLOAD_KINDS[kind]
        name = f"{namespace}.{kind.lower()}.{workload}.yaml"
        text = render(
            "workload-patch.yaml.j2",
            {
                "api_version": api_version,
                "kind": kind,
                "name": workload,
                "namespace": namespace,
                "legacy_annotation": legacy_annotation,
                "containers": members,
            },
        )
        group, version = api_version.split("/")
        entry = {
            "path": name,
            "group": group,
            "version": version,
            "kind": kind,
            "name": workload,
            "namespace": namespace,
        }
        out[f"workloads/{name}"] = (text, entry)
    return out


def _spo_files(
    profiles: Mapping[str, str], names: list[str], mode: str, files: dict[str, str]
) -> list[tuple[str, str]]:
    from aaprof.k8s.spo import spo_abstract
    from aaprof.k8s.templates import render

    skipped: list[tuple[str, str]] = []
    fitted: list[tuple[str, SpoAbstract]] = []
    for name in names:
        fit = spo_abstract(name, profiles[name])
        if fit.abstract is None or not DNS_SUBDOMAIN.fullmatch(name) or len(name) > 253:
            skipped.append((name, fit.reason or "not a valid metadata.name"))
        else:
            fitted.append((name, fit.abstract))
    for name, abstract in fitted:
        files[f"spo/{name}.yaml"] = render(
            "spo-apparmorprofile.yaml.j2",
            {
                "name": name,
                "mode": mode.capitalize(),
                "abstract": abstract,
                "labels": (("app.kubernetes.io/part-of", "aaprof"),),
            },
        )
    if fitted:
        files["spo/kustomization.yaml"] = render(
            "spo-kustomization.yaml.j2",
            {"resources": [f"{name}.yaml" for name, _ in fitted], "skipped": skipped},
        )
    return skipped


def _check_options(
    profiles: Mapping[str, str], namespace: str, mode: str, image: str, interval: int
) -> None:
    _check_name("namespace", namespace, DNS_LABEL, 63)
    if mode not in MODES:
        raise AaprofError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    check_image(image)
    if not 1 <= interval <= 86400:
        raise AaprofError(f"loader interval {interval} is not 1..86400 seconds")
    keys: dict[str, str] = {}
    size = 0
    for name, text in profiles.items():
        _check_profile_name(name)
        key = configmap_key(name)
        if key in keys:
            raise AaprofError(f"profiles {keys[key]!r} and {name!r} share ConfigMap key {key}")
        keys[key] = name
        size += len(key) + len(text.encode("utf-8", "surrogatepass"))
    if size > CONFIGMAP_LIMIT:
        raise AaprofError(
            f"the profiles are {size} bytes, over the {CONFIGMAP_LIMIT} one ConfigMap can hold"
        )


def _check_targets(profiles: Mapping[str, str], targets: tuple[Target, ...]) -> None:
    seen: dict[tuple[str, str, str, str], str] = {}
    for t in targets:
        if t.profile not in profiles:
            raise AaprofError(f"profile {t.profile!r} for container {t.container} is not given")
        where = (t.namespace, t.kind, t.workload, t.container)
        if seen.setdefault(where, t.profile) != t.profile:
            raise AaprofError(
                f"container {t.container} of {t.kind} {t.namespace}/{t.workload} has two "
                f"profiles: {seen[where]!r} and {t.profile!r}"
            )


def _check_name(what: str, value: str, pattern: re.Pattern[str], limit: int) -> None:
    if len(value) > limit or not pattern.fullmatch(value):
        raise AaprofError(
            f"{what} {value!r} is not a valid Kubernetes name "
            f"(lowercase letters, digits, '-'{' and .' if limit > 63 else ''}; at most {limit})"
        )


def _check_profile_name(name: str) -> None:
    if not name or name != name.strip() or not name.isprintable():
        raise AaprofError(f"profile name {name!r} is empty, padded or not printable")


def _target_key(target: Target) -> tuple[str, str, str, str, str]:
    return (target.namespace, target.kind, target.workload, target.container, target.profile)
