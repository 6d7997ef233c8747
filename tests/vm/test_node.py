"""Kubernetes' AppArmor node cases on a real kernel: runc applies a loaded profile and is
refused an unloaded one. Each check is shown to fail on a container that breaks its claim."""

from __future__ import annotations

import pytest

from vm import node
from vm.harness import Images, VMResult, Workload, run_workload

pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def node_run(vm_images: Images) -> VMResult:
    result = run_workload(vm_images, Workload(steps=node.steps(), files=node.files()))
    result.check()
    return result


@pytest.mark.parametrize("container", [node.CONFINED, node.CONFINED_SYSTEMD], ids=lambda c: c.name)
def test_loaded_profile_is_applied(node_run: VMResult, container: node.Container) -> None:
    assert node.problems_confined(node_run, container, "k8s-node-confined") == []


def test_unloaded_profile_is_rejected(node_run: VMResult) -> None:
    assert node.problems_rejected(node_run, node.UNLOADED) == []


def test_applied_check_fails_on_wrong_profile_name(node_run: VMResult) -> None:
    bad = node.problems_confined(node_run, node.CONFINED, "k8s-node-other")
    assert any("does not name k8s-node-other" in b for b in bad)
    assert any("no DENIED open" in b for b in bad)


def test_applied_check_fails_on_profile_missing_a_rule(node_run: VMResult) -> None:
    # k8s-node-loose allows /secret: the container is confined, but not denied
    bad = node.problems_confined(node_run, node.LOOSE, "k8s-node-loose")
    assert any("was not denied" in b for b in bad), bad
    assert any("no DENIED open" in b for b in bad), bad
    assert not any("does not name" in b for b in bad), bad


def test_rejected_check_fails_on_loaded_profile(node_run: VMResult) -> None:
    bad = node.problems_rejected(node_run, node.CONFINED)
    assert any("runc ran the container" in b or "process ran" in b for b in bad), bad
    assert any("no change_onexec" in b for b in bad), bad
