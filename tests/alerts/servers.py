"""Real Prometheus tools for the alert tests: promtool, Alertmanager and Prometheus on 127.0.0.1.

A missing tool fails the test with the package that provides it (scripts/apt-test.txt lists
them; `./dev.sh test` installs them).
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")
HINT = "apt-get install prometheus prometheus-alertmanager (./dev.sh test installs them)"


def require(tool: str) -> str:
    """The path of `tool` (promtool, prometheus, prometheus-alertmanager), or a failed test."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is missing: {HINT}")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(
    url: str,
    process: subprocess.Popen[bytes],
    log: Path,
    timeout: float = 120,
    context: ssl.SSLContext | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Poll `url` until it answers 200; fail with the server's log if it exits or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url}: the server exited ({process.returncode}):\n{log.read_text()}")
        try:
            request = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(request, timeout=2, context=context) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url}: not ready after {timeout} s:\n{log.read_text()}")


class Alertmanager:
    """One Alertmanager, standalone (no cluster), that can be stopped and started on its port."""

    CONFIG = "route:\n  receiver: none\nreceivers:\n  - name: none\n"

    def __init__(self, directory: Path, tls: tuple[Path, Path] | None = None) -> None:
        self.binary = require("prometheus-alertmanager")
        self.directory = directory
        self.port = free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.tls = tls
        self.users: dict[str, str] = {}  # user -> bcrypt hash (web config basic auth)
        self.headers: dict[str, str] = {}
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "alertmanager.yml").write_text(self.CONFIG)

    def _web_config(self) -> list[str]:
        if not (self.tls or self.users):
            return []
        web: dict[str, object] = {}
        if self.tls:
            web["tls_server_config"] = {"cert_file": str(self.tls[0]), "key_file": str(self.tls[1])}
        if self.users:
            web["basic_auth_users"] = self.users
        path = self.directory / "web.yml"
        path.write_text(json.dumps(web))
        return [f"--web.config.file={path}"]

    def context(self) -> ssl.SSLContext | None:
        return ssl.create_default_context(cafile=str(self.tls[0])) if self.tls else None

    def start(self) -> None:
        log = self.directory / "alertmanager.log"
        self.process = subprocess.Popen(
            [
                self.binary,
                *self._web_config(),
                f"--config.file={self.directory / 'alertmanager.yml'}",
                f"--storage.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
            ],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_ready(f"{self.url}/-/ready", self.process, log, 120, self.context(), self.headers)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert it holds, resolved ones included (GET /api/v2/alerts)."""
        request = urllib.request.Request(f"{self.url}/api/v2/alerts", headers=self.headers)
        with urllib.request.urlopen(request, timeout=10, context=self.context()) as response:
            result = json.load(response)
        assert isinstance(result, list)
        return result


class Prometheus:
    """One Prometheus that scrapes `targets` as job `aaprof-watch` every second, evaluates
    `rules` every second and notifies `alertmanager`."""

    def __init__(
        self, directory: Path, rules: Path, targets: list[str], alertmanager: Alertmanager
    ) -> None:
        self.binary = require("prometheus")
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "alerting": {
                "alertmanagers": [
                    {"static_configs": [{"targets": [alertmanager.url.split("://")[1]]}]}
                ]
            },
            "scrape_configs": [
                {
                    "job_name": "aaprof-watch",
                    "honor_labels": True,
                    "static_configs": [{"targets": targets}],
                }
            ],
        }
        (directory / "prometheus.yml").write_text(json.dumps(config))

    def start(self) -> None:
        log = self.directory / "prometheus.log"
        self.process = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.directory / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--rules.alert.resend-delay=1s",
            ],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_ready(f"{self.url}/-/ready", self.process, log)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result vector."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        with urllib.request.urlopen(url, timeout=10) as response:
            result = json.load(response)["data"]["result"]
        assert isinstance(result, list)
        return result


def poll(check: Callable[[], T | None], what: str, timeout: float = 120) -> T:
    """`check()`'s first true value, polling; a failed test naming `what` if none comes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")
