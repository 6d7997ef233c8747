"""The catalogue as it ships: each profile carries its provenance, compiles, and allows none of
the sensitive accesses its component does not need (the reasons for those it does are in
docs/catalogue.md); `aaprof catalogue list|show|write`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aaprof_cli import aaprof

from aaprof import catalogue
from aaprof.errors import AaprofError
from aaprof.profiles.compare import profiles_by_name, read_policy
from aaprof.profiles.compile import compile_policy
from catalogue import sensitive

ENTRIES = [pytest.param(e, id=e.name) for e in catalogue.ENTRIES]
# entry name → the sensitive accesses its component needs (each explained in docs/catalogue.md)
NEEDED: dict[str, set[str]] = {e.name: set() for e in catalogue.ENTRIES}
DEFAULT_ALLOW = "abi <abi/3.0>,\ninclude <tunables/global>\nprofile {name} {{\n  allow all,\n}}\n"


@pytest.mark.parametrize("entry", ENTRIES)
def test_profile_carries_its_provenance(entry: catalogue.Entry) -> None:
    path = catalogue.profile_path(entry.name)
    found = catalogue.provenance(catalogue.profile_text(entry.name), str(path))
    assert found["entry"] == entry.name
    assert found["component"] == entry.component
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", found["version"]), found["version"]
    assert found["runs"].startswith(entry.runs)
    assert found["decisions"] == f"aaprof/catalogue/decisions/{entry.name}.yaml"
    assert catalogue.decisions_path(entry.name).is_file()
    assert sorted(profiles_by_name(read_policy(str(path)))) == [entry.profile_name]


@pytest.mark.parametrize("entry", ENTRIES)
def test_profile_compiles(entry: catalogue.Entry) -> None:
    assert compile_policy(catalogue.profile_text(entry.name), name=entry.name)


@pytest.mark.parametrize("entry", ENTRIES)
def test_profile_allows_no_sensitive_access_its_component_does_not_need(
    entry: catalogue.Entry,
) -> None:
    got = sensitive.allowed(catalogue.profile_path(entry.name), entry.profile_name)
    assert set(got) == NEEDED[entry.name]


def test_the_sensitive_check_finds_every_access_in_a_default_allow_profile(tmp_path: Path) -> None:
    path = tmp_path / "wide"
    path.write_text(DEFAULT_ALLOW.format(name="wide"))
    assert sensitive.allowed(path, "wide") == [name for name, _ in sensitive.SENSITIVE]


def test_the_sensitive_check_finds_one_rule(tmp_path: Path) -> None:
    # the etcd profile with one rule more: each kind of answer must see it
    text = catalogue.profile_text("etcd")
    for rule, name in (
        ("owner /etc/** rw,", "write under /etc"),
        ("/proc/@{pid}/mem r,", "read /proc/*/mem"),
        ("capability sys_module,", "capability sys_module"),
        ("ptrace,", "ptrace trace"),
        ("mount,", "mount"),
        ("network inet raw,", "raw network (inet)"),
        ("network,", "raw network (packet)"),
    ):
        path = tmp_path / "etcd"
        opening = "mediate_deleted) {\n"
        assert opening in text
        path.write_text(text.replace(opening, f"{opening}  {rule}\n"))
        assert name in sensitive.allowed(path, "/usr/local/bin/etcd"), rule


def test_provenance_names_the_line_of_a_bad_header() -> None:
    text = catalogue.profile_text("etcd").replace("# catalogue runs:", "# catalogue rune:")
    with pytest.raises(AaprofError, match=r"^etcd:5: not a provenance line"):
        catalogue.provenance(text, "etcd")


def test_header_refuses_a_line_break() -> None:
    values = dict.fromkeys(catalogue.KEYS, "x")
    values["workload"] = "a\nprofile evil {}"
    with pytest.raises(AaprofError, match="line break"):
        catalogue.header(values)


def test_list_names_each_entry_its_kind_and_version() -> None:
    done = aaprof("catalogue", "list", check=True)
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["NAME", "RUNS", "AS", "VERSION", "PROFILE"]
    for e in catalogue.ENTRIES:
        version = catalogue.provenance(catalogue.profile_text(e.name))["version"]
        assert any(
            line.split()[0] == e.name and e.runs in line and version in line
            and line.endswith(e.profile_name)
            for line in lines[1:]
        ), done.stdout  # fmt: skip


def test_show_prints_the_profile() -> None:
    done = aaprof("catalogue", "show", "etcd", check=True)
    assert done.stdout == catalogue.profile_text("etcd")


def test_write_writes_the_profile(tmp_path: Path) -> None:
    done = aaprof("catalogue", "write", "etcd", "--out", str(tmp_path / "out"), check=True)
    assert done.stdout.splitlines() == [str(tmp_path / "out" / "etcd")]
    assert (tmp_path / "out" / "etcd").read_text() == catalogue.profile_text("etcd")
    assert not (tmp_path / "out" / "k8s").exists()  # a host service: no bundle


@pytest.mark.parametrize(
    "entry", [pytest.param(e, id=e.name) for e in catalogue.ENTRIES if e.runs == catalogue.POD]
)
def test_write_of_a_pod_entry_writes_its_bundle(entry: catalogue.Entry, tmp_path: Path) -> None:
    import yaml

    out = tmp_path / "out"
    aaprof("catalogue", "write", entry.name, "--out", str(out), check=True)
    text = catalogue.profile_text(entry.name)
    configmap = yaml.safe_load((out / "k8s/loader/configmap.yaml").read_text())
    assert list(configmap["data"].values()) == [text]
    patch_file = out / f"k8s/workloads/{entry.namespace}.deployment.{entry.name}.yaml"
    patch = yaml.safe_load(patch_file.read_text())
    (container,) = patch["spec"]["template"]["spec"]["containers"]
    assert container["name"] == entry.container
    assert container["securityContext"]["appArmorProfile"] == {
        "type": "Localhost",
        "localhostProfile": entry.profile_name,
    }
    kustomization = yaml.safe_load((out / "k8s/kustomization.yaml").read_text())
    assert "workloads" in kustomization["components"]


def test_an_unknown_entry_is_one_line_naming_the_entries() -> None:
    done = aaprof("catalogue", "show", "nope")
    assert done.returncode == 1
    names = ", ".join(e.name for e in catalogue.ENTRIES)
    assert done.stderr == f"aaprof: the catalogue has no entry 'nope' (entries: {names})\n"
