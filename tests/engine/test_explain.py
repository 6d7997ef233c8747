"""explain: capability records against rules, deny blocks included."""

from __future__ import annotations

from pathlib import Path

import pytest

from aaprof.engine.explain import _capability
from aaprof.model.event import Event
from aaprof.profiles.build import parse_policy

POLICY = """\
profile x {
  deny {
    capability sys_admin,
  }
  capability chown,
  audit capability,
}
profile y {
  capability setuid,
}
profile z {
  all,
}
profile w {
  all,
  deny capability sys_module,
}
"""


@pytest.mark.parametrize(
    ("profile", "capname", "verdict"),
    [
        ("x", "sys_admin", "denied"),  # the block's deny applies to the rule inside
        ("x", "chown", "allowed"),
        ("x", "net_raw", "allowed"),  # `capability,` grants every capability
        ("y", "setuid", "allowed"),
        ("y", "net_raw", "unmatched"),
        ("z", "sys_module", "allowed"),  # `all,` grants every capability
        ("w", "sys_module", "denied"),
        ("w", "sys_admin", "allowed"),
    ],
)
def test_capability_verdicts(profile: str, capname: str, verdict: str) -> None:
    policy = parse_policy(POLICY)
    found = next(p for p in policy.profiles() if p.name == profile)
    answer = _capability(Event(mode="DENIED", operation="capable", capname=capname), profile, found)
    assert answer.verdict == verdict
    if verdict == "denied":
        want = "capability sys_admin," if profile == "x" else "deny capability sys_module,"
        assert answer.deny_rules == (want,)


def test_a_record_given_as_aaprof_json_is_explained(tmp_path: Path) -> None:
    import json

    from aaprof.engine.explain import Explainer

    policy = Path(str(tmp_path)) / "p"
    policy.write_text(POLICY)
    explainer = Explainer.load(str(policy), Path("/nonexistent"))
    event = Event("DENIED", operation="capable", class_="cap", profile="y", capname="setuid")
    (answer,) = explainer.explain_all([], [json.dumps(event.to_dict())])
    assert answer.event == event and answer.verdict == "allowed"
