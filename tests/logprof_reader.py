"""aa-logprof's own profile reader (Debian's python3-apparmor, 3.0.8 on Debian 12), run on
profile texts: what `aa-logprof -d DIR` reads before it asks anything. Test-only code."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

ETC = Path("/etc/apparmor.d")
# every profile under argv[1] → its file rules, as JSON
_READ = """
import json, sys
from apparmor import aa
aa.init_aa(confdir="/etc/apparmor", profiledir=sys.argv[1])
aa.loadincludes()
aa.read_profiles()
print(json.dumps({p: [str(r.get_clean()) for r in aa.aa[p][p]["file"].rules] for p in aa.aa}))
"""


def read_profiles(texts: Mapping[str, str | bytes], work: Path) -> dict[str, list[str]]:
    """The file rules aa-logprof's parser reads in each profile of `texts` (file name → text),
    written into `work` beside links to the host's tunables, abi and abstractions.

    Fails the calling test with the parser's error when it refuses a file, or when the
    parser is not installed.
    """
    probe = subprocess.run([sys.executable, "-c", "import apparmor.aa"], check=False)
    if probe.returncode:
        pytest.fail("no aa-logprof engine: apt-get install python3-apparmor apparmor-utils")
    work.mkdir(parents=True, exist_ok=True)
    for include in ("tunables", "abi", "abstractions"):  # its includes, as in /etc/apparmor.d
        (work / include).symlink_to(ETC / include)
    for name, text in texts.items():
        data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
        (work / name).write_bytes(data)
    read = subprocess.run(
        [sys.executable, "-c", _READ, str(work)], capture_output=True, text=True, check=False
    )
    if read.returncode != 0:
        pytest.fail(f"aa-logprof's parser refused a profile:\n{read.stderr}")
    found: dict[str, list[str]] = json.loads(read.stdout)
    return found
