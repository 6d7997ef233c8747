"""The Kubernetes bundle: renders, parses back, validates, builds with kustomize."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from aaprof.errors import AaprofError
from aaprof.k8s.bundle import Target, configmap_key, render_bundle, targets_for
from k8s.validate import validate_bundle

NGINX = "aaprof.shop.web.nginx"
SIDECAR = "aaprof.shop.web.envoy"
DB = "aaprof.data.pg.v16.postgres"
HAND = "k8s-hand written"
PROFILES = {
    NGINX: (
        "abi <abi/3.0>,\ninclude <tunables/global>\n"
        f"profile {NGINX} flags=(attach_disconnected,mediate_deleted) {{\n"
        "  include <abstractions/base>\n  /etc/nginx/** r,\n  /usr/sbin/nginx rix,\n"
        "  capability net_bind_service,\n  network tcp,\n}\n"
    ),
    SIDECAR: f"profile {SIDECAR} {{\n  /tmp/** rw,\n  signal (receive) peer=unconfined,\n}}\n",
    DB: f"profile {DB} {{\n  /var/lib/postgresql/data/** rwlk,\n}}\n",
    HAND: 'profile "k8s-hand written" {\n}\n',
}
HOSTILE = [
    'say "hi", }\n',
    "key: value\n---\n...\n- item\n",
    "{{ not_a_variable }} {% raw %}\n",
    "#comment\n  leading spaces\n\ttab\n",
    "no trailing newline",
    "two trailing newlines\n\n",
    "\n\nleading newlines\n",
    "trailing spaces   \n   \n",
    "non-ASCII: é 🛡 ß\n",
    "cr\r\nlf\n",
    "nel\x85 ls\u2028 bom\ufeff del\x7f bell\x07\n",
    '"\n"quoted": evil\nother: injected\n',
    "|\n>\n&anchor *alias !tag %YAML\n",
    "",
    " ",
    "\\ backslash \\n not a newline\n",
]


def render(**kwargs: Any) -> dict[str, str]:
    return render_bundle(PROFILES, targets_for(PROFILES), **kwargs)


def load(text: str) -> list[Any]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def test_bundle_renders_parses_and_validates() -> None:
    files = render()
    assert set(files) == {
        "kustomization.yaml",
        "loader/configmap.yaml",
        "loader/daemonset.yaml",
        "workloads/kustomization.yaml",
        "workloads/data.deployment.pg.v16.yaml",
        "workloads/shop.deployment.web.yaml",
        "spo/kustomization.yaml",
        f"spo/{NGINX}.yaml",
        f"spo/{DB}.yaml",
    }
    for text in files.values():
        assert len(load(text)) == 1
    assert validate_bundle(files) == ()


def test_validation_can_fail() -> None:
    files = render()
    path = "workloads/shop.deployment.web.yaml"
    files[path] = files[path].replace('type: "Localhost"', 'type: "Localhost"\n            x: 1')
    files["spo/kustomization.yaml"] += '- "missing.yaml"\n'
    spo = f"spo/{DB}.yaml"
    files[spo] = files[spo].replace('mode: "Complain"', 'mode: "Loud"')
    found = {f.path for f in validate_bundle(files)}
    assert found == {path, "spo/kustomization.yaml", spo}


def test_patch_sets_localhost_profile_per_container() -> None:
    patch = load(render()["workloads/shop.deployment.web.yaml"])[0]
    assert patch["metadata"] == {"name": "web", "namespace": "shop"}
    containers = patch["spec"]["template"]["spec"]["containers"]
    assert containers == [
        {
            "name": name,
            "securityContext": {"appArmorProfile": {"type": "Localhost", "localhostProfile": p}},
        }
        for name, p in (("envoy", SIDECAR), ("nginx", NGINX))
    ]
    component = load(render()["workloads/kustomization.yaml"])[0]
    assert component["kind"] == "Component"
    assert component["patches"][1]["target"] == {
        "group": "apps", "version": "v1", "kind": "Deployment", "name": "web", "namespace": "shop",
    }  # fmt: skip


def test_legacy_annotation_only_behind_the_flag() -> None:
    path = "workloads/shop.deployment.web.yaml"
    assert "annotations" not in load(render()[path])[0]["spec"]["template"]
    legacy = load(render(legacy_annotation=True)[path])[0]
    assert legacy["spec"]["template"]["metadata"]["annotations"] == {
        "container.apparmor.security.beta.kubernetes.io/envoy": f"localhost/{SIDECAR}",
        "container.apparmor.security.beta.kubernetes.io/nginx": f"localhost/{NGINX}",
    }
    assert validate_bundle(render(legacy_annotation=True)) == ()


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet", "Job", "CronJob"])
def test_other_workload_kinds_validate(kind: str) -> None:
    files = render_bundle(PROFILES, targets_for(PROFILES, kind=kind), legacy_annotation=True)
    assert f"workloads/shop.{kind.lower()}.web.yaml" in files
    assert validate_bundle(files) == ()


def configmap_data(profiles: dict[str, str]) -> dict[str, str]:
    docs = load(render_bundle(profiles, ())["loader/configmap.yaml"])
    assert len(docs) == 1
    data: dict[str, str] = docs[0]["data"]
    return data


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_profile_text_round_trips_through_the_configmap(text: str) -> None:
    profiles = {"aaprof.a.b.c": text, "aaprof.a.b.d": "profile aaprof.a.b.d {}\n"}
    assert configmap_data(profiles) == profiles


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_profile_text_round_trips(text: str) -> None:
    assert configmap_data({"aaprof.a.b.c": text}) == {"aaprof.a.b.c": text}


def test_profile_names_outside_the_scheme_are_loaded_but_patch_nothing() -> None:
    key = configmap_key(HAND)
    assert key.startswith("profile-") and key != HAND
    assert configmap_data({HAND: "x"}) == {key: "x"}
    assert targets_for([HAND, "cri-containerd.apparmor.d", f"{NGINX}//null-/bin/sh"]) == ()
    assert f'"{HAND}"' in render()["kustomization.yaml"]


def test_targets_for_reads_the_naming_scheme() -> None:
    assert targets_for([NGINX, DB]) == (
        Target("data", "pg.v16", "postgres", DB),
        Target("shop", "web", "nginx", NGINX),
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: Target("Shop", "web", "nginx", NGINX),
        lambda: Target("shop", "web_1", "nginx", NGINX),
        lambda: Target("shop", "web", "nginx.x", NGINX),
        lambda: Target("shop", "web", "nginx", " padded"),
        lambda: Target("shop", "web", "nginx", NGINX, kind="Pod"),
        lambda: render(namespace="Kube-System"),
        lambda: render(namespace="x" * 64),
        lambda: render(mode="loud"),
        lambda: render(image="debian 12"),
        lambda: render_bundle({"bad\nname": "x"}, ()),
        lambda: render_bundle({}, [Target("shop", "web", "nginx", NGINX)]),
        lambda: render_bundle(
            PROFILES,
            [Target("shop", "web", "nginx", NGINX), Target("shop", "web", "nginx", SIDECAR)],
        ),
        lambda: render_bundle({"aaprof.a.b.c": "x" * 1_100_000}, ()),
    ],
)
def test_invalid_input_is_refused(make: Any) -> None:
    with pytest.raises(AaprofError):
        make()


def test_mode_reaches_the_loader_and_spo() -> None:
    for mode, spo_mode in (("complain", "Complain"), ("enforce", "Enforce")):
        files = render(mode=mode)
        env = load(files["loader/daemonset.yaml"])[0]["spec"]["template"]["spec"]["containers"][0]
        assert {"name": "AAPROF_MODE", "value": mode} in env["env"]
        # the uninstall switch (docs/kubernetes.md): load until set to unload
        assert {"name": "AAPROF_ACTION", "value": "load"} in env["env"]
        assert load(files[f"spo/{NGINX}.yaml"])[0]["spec"]["mode"] == spo_mode


def test_loader_daemonset_runs_on_every_linux_node() -> None:
    files = render(image="registry.example/apparmor-loader:1", namespace="aaprof")
    spec = load(files["loader/daemonset.yaml"])[0]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["image"] == "registry.example/apparmor-loader:1"
    assert "apparmor_parser" in container["args"][0]
    assert container["securityContext"]["privileged"] is True
    assert container["resources"]["limits"]
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert spec["tolerations"] == [{"operator": "Exists"}]
    assert {v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v} == {
        "/sys/kernel/security",
        "/etc/apparmor.d",
        "/var/lib/aaprof/node",
    }
    assert "priorityClassName" not in spec  # system-node-critical is for kube-system only


def test_loader_checksum_follows_the_profiles() -> None:
    def checksum(profiles: dict[str, str]) -> str:
        ds = load(render_bundle(profiles, ())["loader/daemonset.yaml"])[0]
        value: str = ds["spec"]["template"]["metadata"]["annotations"]["aaprof/profiles-sha256"]
        return value

    assert checksum({"a": "x"}) != checksum({"a": "y"}) != checksum({"b": "y"})


def test_spo_only_where_its_schema_expresses_the_profile() -> None:
    files = render()
    nginx = load(files[f"spo/{NGINX}.yaml"])[0]
    assert nginx["spec"]["abstract"] == {
        "executable": {"allowedExecutables": ["/usr/sbin/nginx"]},
        "filesystem": {"readOnlyPaths": ["/etc/nginx/**"]},
        "network": {"allowRaw": False, "allowedProtocols": {"allowTcp": True, "allowUdp": False}},
        "capability": {"allowedCapabilities": ["net_bind_service"]},
    }
    assert f"spo/{SIDECAR}.yaml" not in files
    assert (
        f'"{SIDECAR}": "file rule /tmp/** rw has no SPO equivalent"'
        in files["spo/kustomization.yaml"]
    )
    assert not any(p.startswith("spo/") for p in render(spo=False))
    resources = load(files["kustomization.yaml"])[0]["resources"]
    assert not any(r.startswith("spo") for r in resources)  # an alternative to the loader


def test_same_input_same_bytes() -> None:
    first = render(legacy_annotation=True)
    reordered = dict(reversed(PROFILES.items()))
    second = render_bundle(reordered, reversed(targets_for(PROFILES)), legacy_annotation=True)
    assert first == second
    assert list(first) == sorted(first)


def kustomize() -> list[str]:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    pytest.skip("neither kustomize nor kubectl is on PATH: the kustomize build is not checked")


def write(files: dict[str, str], root: Path) -> None:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")


def build(path: Path) -> list[Any]:
    result = subprocess.run([*kustomize(), str(path)], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return load(result.stdout)


def test_kustomization_builds(tmp_path: Path) -> None:
    profiles = {**PROFILES, "aaprof.a.b.c": HOSTILE[1] + HOSTILE[11]}
    write(render_bundle(profiles, targets_for(profiles)), tmp_path / "k8s")
    objects = build(tmp_path / "k8s")
    assert [o["kind"] for o in objects] == ["ConfigMap", "DaemonSet"]
    assert objects[0]["data"]["aaprof.a.b.c"] == profiles["aaprof.a.b.c"]
    assert [o["metadata"]["name"] for o in build(tmp_path / "k8s" / "spo")] == [DB, NGINX]


def test_workloads_component_patches_the_workload(tmp_path: Path) -> None:
    write(render(legacy_annotation=True), tmp_path / "k8s")
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "nginx", "image": "nginx:1"},
                        {"name": "envoy", "image": "envoy:1"},
                    ]
                },
            },
        },
    }
    app = tmp_path / "app"
    app.mkdir()
    (app / "web.yaml").write_text(yaml.safe_dump(deployment))
    (app / "kustomization.yaml").write_text(
        "resources: [web.yaml]\ncomponents: [../k8s/workloads]\n"
    )
    (built,) = build(app)
    template = built["spec"]["template"]
    profiles = {
        c["name"]: (c["image"], c["securityContext"]["appArmorProfile"]["localhostProfile"])
        for c in template["spec"]["containers"]
    }
    assert profiles == {"nginx": ("nginx:1", NGINX), "envoy": ("envoy:1", SIDECAR)}
    assert (
        template["metadata"]["annotations"]["container.apparmor.security.beta.kubernetes.io/nginx"]
        == f"localhost/{NGINX}"
    )
