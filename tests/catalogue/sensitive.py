"""The sensitive accesses no catalogue profile may allow unless its component needs one, and
aaprof's own answer for each: the coverage engine (aaprof/profiles/coverage.py, through the
explainer that resolves the profile's includes and variables) for files and capabilities, the
engine's rule comparison (aaprof/engine/existing.py) for ptrace, mount and network."""

from __future__ import annotations

from pathlib import Path

from aaprof.engine.existing import covered
from aaprof.engine.explain import Explainer
from aaprof.engine.rules import rule_for
from aaprof.logs import parse_line
from aaprof.model.event import Event
from aaprof.profiles.compare import profiles_by_name

BASE = Path("/etc/apparmor.d")
_RECORD = 'apparmor="ALLOWED" pid=4242 comm="probe" fsuid=0 ouid=0 '

# (name, the record the kernel would write for the access)
SENSITIVE: tuple[tuple[str, str], ...] = (
    ("read /etc/shadow", 'operation="open" name="/etc/shadow" requested_mask="r" denied_mask="r"'),
    ("write under /usr", 'operation="open" name="/usr/bin/su" requested_mask="w" denied_mask="w"'),
    ("create under /usr", 'operation="mknod" name="/usr/lib/x.so" requested_mask="c" '
     'denied_mask="c"'),
    ("write under /etc", 'operation="open" name="/etc/passwd" requested_mask="w" denied_mask="w"'),
    ("create under /etc", 'operation="mknod" name="/etc/cron.d/x" requested_mask="c" '
     'denied_mask="c"'),
    ("read /proc/*/mem", 'operation="open" name="/proc/1/mem" requested_mask="r" denied_mask="r"'),
    ("write /proc/*/mem", 'operation="open" name="/proc/1/mem" requested_mask="w" '
     'denied_mask="w"'),
    ("ptrace trace", 'operation="ptrace" requested_mask="trace" denied_mask="trace" '
     'peer="unconfined"'),
    ("capability sys_admin", 'operation="capable" capability=21 capname="sys_admin"'),
    ("capability sys_module", 'operation="capable" capability=16 capname="sys_module"'),
    ("mount", 'operation="mount" info="failed flags match" error=-13 fstype="tmpfs" '
     'srcname="none" flags="rw" name="/mnt/"'),
    ("raw network (inet)", 'operation="create" family="inet" sock_type="raw" protocol=1 '
     'requested_mask="create" denied_mask="create"'),
    ("raw network (packet)", 'operation="create" family="packet" sock_type="raw" protocol=768 '
     'requested_mask="create" denied_mask="create"'),
)  # fmt: skip


def event(profile: str, record: str) -> Event:
    """The access as aaprof reads it from a kernel record of `profile`."""
    line = f'audit: type=1400 audit(1700000000.000:1): {_RECORD}profile="{profile}" {record}'
    parsed = parse_line(line)
    assert isinstance(parsed, Event), f"not a record: {line}: {parsed}"
    return parsed


def allowed(path: Path, profile: str) -> list[str]:
    """The sensitive accesses the profile `profile` in the file `path` allows."""
    explainer = Explainer.load(str(path), BASE, only=profile)
    own = profiles_by_name(explainer.policy)[profile]
    out = []
    for name, record in SENSITIVE:
        e = event(profile, record)
        rule = rule_for(e)
        answer = explainer.explain(e)
        if answer.verdict == "not-modelled":
            ok = rule is not None and covered(own, rule, e)
        else:
            ok = answer.verdict == "allowed"
        if ok:
            out.append(name)
    return out
