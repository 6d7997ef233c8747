"""The catalogue's profiles, as they ship, under enforce on a real kernel.

One boot serves every entry: the committed profile is loaded in enforce mode, the component runs
a DIFFERENT run from the one its profile was learnt from (other data, other counts, a restart
the learning run did not have; tests/vm/catalogue_guest/NAME_workload.py `enforce`) and must
pass its own checks with no DENIED record of its profile; then the probes (reading /etc/shadow,
writing under /usr and /etc, ptrace of another process, loading a module, mounting) must each
fail with a DENIED record of its profile. A second boot, under empty enforce profiles, shows the
checks fail when a profile lacks what the component needs.
"""

from __future__ import annotations

import pytest

from aaprof import catalogue
from vm import catalogue_loop as cl
from vm.harness import Images, VMResult, run_workload

pytestmark = pytest.mark.vm

ENTRIES = catalogue.ENTRIES
IDS = [e.name for e in ENTRIES]


def _boot(images: Images, policy: dict[str, bytes]) -> VMResult:
    result = run_workload(images, cl.workload(ENTRIES, policy, "enforce"))
    result.check_log()
    return result


@pytest.fixture(scope="module")
def enforced(vm_images: Images) -> VMResult:
    policy = {e.name: catalogue.profile_text(e.name).encode() for e in ENTRIES}
    return _boot(vm_images, policy)


@pytest.fixture(scope="module")
def empty(vm_images: Images) -> VMResult:
    text = cl.empty_policy(ENTRIES).replace("flags=(complain) ", "")
    return _boot(vm_images, {"empty": text.encode()})


def test_profiles_load_in_enforce_mode(enforced: VMResult) -> None:
    bad = cl.problems_loaded(enforced, ENTRIES, "enforce")
    assert bad == [], "\n".join(bad)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_component_is_the_version_its_profile_was_learnt_on(
    enforced: VMResult, entry: catalogue.Entry
) -> None:
    # a new version (a changed pin, a Debian update) is learnt again: scripts/catalogue-learn.py
    learnt = catalogue.provenance(catalogue.profile_text(entry.name))["version"]
    assert cl.version(enforced, entry) == learnt


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_enforced_workload_passes_with_no_denial(
    enforced: VMResult, entry: catalogue.Entry
) -> None:
    bad = cl.problems_workload(enforced, entry)
    assert bad == [], "\n".join(bad)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_probes_are_denied(enforced: VMResult, entry: catalogue.Entry) -> None:
    bad = cl.problems_probes(enforced, entry)
    assert bad == [], "\n".join(bad)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_workload_check_fails_under_an_empty_profile(
    empty: VMResult, entry: catalogue.Entry
) -> None:
    assert cl.problems_loaded(empty, ENTRIES, "enforce") == []
    bad = cl.problems_workload(empty, entry)
    assert any("DENIED record(s)" in b for b in bad), bad
