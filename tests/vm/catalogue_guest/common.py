"""What the catalogue's guest workloads share: start a component, wait for it, call it, check.

Run in the test VM (the host's Python, stdlib only), unconfined: the component runs under its
profile (attached by path, or `aaexec PROFILE` as a container runtime would set it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable

WAIT_SECONDS = 600  # under emulation on a busy host a component may take minutes to start
ENV = {"GODEBUG": "asyncpreemptoff=1", "PATH": "/usr/local/bin:/usr/bin:/bin"}


def start(
    args: list[str], log: str, ready: Callable[[], bool], profile: str | None = None
) -> subprocess.Popen[bytes]:
    """Start `args` (under `profile` through aaexec when given), its output appended to `log`,
    and wait until `ready()` says so; exit naming the component if it dies or never is."""
    os.makedirs(os.path.dirname(log), exist_ok=True)
    cmd = ["/usr/local/bin/aaexec", profile, *args] if profile else args
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=out, env=ENV)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        if proc.poll() is not None:
            with open(log, errors="replace") as f:
                tail = f.read()[-2000:]
            sys.exit(f"{args[0]} exited {proc.returncode} while starting; its log ends:\n{tail}")
        try:
            if ready():
                return proc
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"{args[0]} did not become ready")
        time.sleep(0.5)


def until(what: str, done: Callable[[], bool]) -> None:
    """Wait until `done()`; exit naming `what` if it never is (no assumption on how long)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not done():
        if time.monotonic() > deadline:
            sys.exit(f"check failed: {what} (waited {WAIT_SECONDS} s)")
        time.sleep(0.5)
    print("ok:", what)


def stop(proc: subprocess.Popen[bytes], name: str) -> None:
    """SIGTERM, as systemd or the kubelet stops it, and wait."""
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait()
    print(f"{name} stopped", "cleanly" if rc == 0 else f"by signal {-rc}" if rc < 0 else rc)


def http(url: str, body: object = None, method: str | None = None) -> bytes:
    """The response body of a GET (or a POST of `body` as JSON, or of nothing: `b""`)."""
    data = None if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data, {"Content-Type": "application/json"}, method=method)
    with urllib.request.urlopen(req, timeout=120) as resp:
        out: bytes = resp.read()
        return out


def check(what: str, ok: bool) -> None:
    """Exit naming `what` unless `ok`."""
    if not ok:
        sys.exit(f"check failed: {what}")
    print("ok:", what)
