"""`aaprof profile check` warns where a peer rule names a bare profile that a stacked label
defeats (containerd's default profile's `peer=cri-containerd.apparmor.d`), and nowhere else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aaprof_cli import aaprof

from aaprof.profiles.abi import check_warnings
from aaprof.profiles.check import check_text
from aaprof.profiles.peers import defeated_by_stacks, stack_proof

# containerd's default profile's peer rules, copied (docs/profile.md shows it)
CONTAINERD = Path(__file__).resolve().parents[2] / "docs/examples/containerd-peers.profile"


def test_containerds_peer_rules_are_flagged_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "cri-containerd.apparmor.d"
    path.write_bytes(CONTAINERD.read_bytes())
    done = aaprof("profile", "check", "--no-compile", str(path))
    assert done.returncode == 0, done.stdout + done.stderr  # a warning, not a rejection
    lines = done.stdout.splitlines()
    where = [f"{path}:7:3:", f"{path}:8:3:", f"{path}:9:3:"]
    assert [line.split(" ", 1)[0] for line in lines[:3]] == where
    names = ["runc", "cri-containerd.apparmor.d", "cri-containerd.apparmor.d"]
    for line, name in zip(lines, names, strict=False):
        assert f"warning: peer {name} names a bare profile" in line
        assert f"such as {name}//&unconfined does not match it (kernels from 6.17" in line
    assert '"{,**//&}cri-containerd.apparmor.d{,//&**}"' in lines[1]
    assert lines[3] == f"{path}: aaprof ok; apparmor_parser skipped"
    json_out = aaprof("profile", "check", "--no-compile", "--format", "json", str(path)).stdout
    doc = json.loads(json_out)
    assert [(w["line"], w["col"]) for w in doc[0]["warnings"]] == [(7, 3), (8, 3), (9, 3)]
    assert doc[0]["problems"] == []


def test_unix_and_dbus_peer_labels_in_children_and_blocks() -> None:
    text = """\
profile p {
  unix (receive) peer=(label=q),
  if defined @{X} {
    dbus (receive) bus=system peer=(label=q),
  }
  profile child {
    signal (send) peer=q,
  }
}
"""
    assert check_text(text) == ()
    assert [(w.line, w.col) for w in check_warnings(text)] == [(2, 3), (4, 5), (7, 5)]


@pytest.mark.parametrize(
    "pattern",
    [
        "unconfined",
        ":ns:unconfined",
        ":ns:",
        "a//&b",  # names the stack
        "q*",  # a glob: the author's choice
        "{,**//&}q{,//&**}",
        "@{profile_name}",
        "",
    ],
)
def test_what_is_not_flagged(pattern: str) -> None:
    assert not defeated_by_stacks(pattern)


def test_a_learned_peer_is_never_flagged() -> None:
    for label in ("q", "q//&unconfined", "crio-default//&unprivileged_userns", ":ns:q"):
        assert not defeated_by_stacks(stack_proof(label))
    text = 'profile p {\n  signal (receive) peer="{,**//&}q{,//&**}",\n}\n'
    assert check_warnings(text) == ()


def test_a_file_that_does_not_parse_has_no_warnings() -> None:
    assert check_warnings("profile p { signal peer=q") == ()
