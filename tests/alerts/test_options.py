"""The watch command's alerting options, and the credentials they carry to a real Alertmanager."""

from __future__ import annotations

import base64
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry

from aaprof.cli.alerts_options import alert_sink, alertmanager_options
from aaprof.errors import AaprofError
from aaprof.watch.alertmanager import Credentials, endpoint
from aaprof.watch.alerts import AlertSink
from alerts.daemon import FakeDaemon, denial
from alerts.servers import Alertmanager


def parse(*args: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    @click.command()
    @alertmanager_options
    def watch(**values: Any) -> None:
        seen.update(values)

    result = CliRunner().invoke(watch, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return seen


def test_no_alertmanager_no_sink() -> None:
    assert alert_sink(parse(), node="n") is None


def test_the_options_build_the_sink(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("abc\n")
    values = parse(
        *("--alertmanager", "http://a:9093", "--alertmanager", "http://b:9093/prefix/"),
        *("--alertmanager-bearer-token-file", str(token), "--alert-resend-interval", "30"),
        *("--alert-mode", "denied", "--alert-mode", "allowed"),
    )
    sink = alert_sink(values, node="node-1", registry=CollectorRegistry())
    assert isinstance(sink, AlertSink)
    assert sink.config.alertmanagers == ("http://a:9093", "http://b:9093/prefix/")
    assert sink.config.timing.resend == 30
    assert sink.config.modes == frozenset({"DENIED", "ALLOWED"})
    assert endpoint("http://b:9093/prefix/") == "http://b:9093/prefix/api/v2/alerts"
    assert Credentials(bearer_token_file=token).header() == "Bearer abc"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--alertmanager", "am:9093"), "not an http"),
        (("--alertmanager", "http://a", "--alert-resend-interval", "900"), "resend interval"),
    ],
)
def test_bad_options_are_one_clear_error(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(AaprofError, match=message):
        alert_sink(parse(*args), node="n")


def test_token_and_basic_auth_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(AaprofError, match="not both"):
        Credentials(bearer_token_file=tmp_path, basic_auth_user="u")


def bcrypt_hash(password: str) -> str:
    """A bcrypt hash for Alertmanager's web config, from libxcrypt (Python's crypt, <= 3.12)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt
        except ImportError:
            pytest.fail("this test hashes with Python's crypt module (Python <= 3.12, Debian 12)")
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))


def test_tls_and_basic_auth_against_a_real_alertmanager(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    server = Alertmanager(tmp_path / "am", tls=(cert, key))
    server.users = {"watch": bcrypt_hash("s3cret")}
    server.headers = {"Authorization": "Basic " + base64.b64encode(b"watch:s3cret").decode()}
    server.start()
    try:
        password = tmp_path / "password"
        password.write_text("s3cret\n")
        values = parse(
            *("--alertmanager", server.url, "--alertmanager-ca-file", str(cert)),
            *("--alertmanager-basic-auth-user", "watch"),
            *("--alertmanager-basic-auth-password-file", str(password)),
        )
        sink = alert_sink(values, node="n", registry=CollectorRegistry())
        assert sink is not None
        daemon = FakeDaemon(tmp_path / "state.db", [sink])
        daemon.feed([denial(time.time())], time.time())
        assert sink.tick(daemon.conn) == 1
        assert len(server.alerts()) == 1
        password.write_text("wrong\n")  # read at each send: a wrong one is refused (401)
        wrong = alert_sink(values, node="n", registry=CollectorRegistry())
        assert wrong is not None
        other = FakeDaemon(tmp_path / "other.db", [wrong])
        other.feed([denial(time.time())], time.time())
        assert wrong.tick(other.conn) == 0
    finally:
        server.stop()


def test_a_missing_secret_is_a_failed_send_not_a_crash(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t")
    url = "http://127.0.0.1:9"
    values = parse("--alertmanager", url, "--alertmanager-bearer-token-file", str(token))
    registry = CollectorRegistry()
    sink = alert_sink(values, node="n", registry=registry)
    assert sink is not None
    daemon = FakeDaemon(tmp_path / "state.db", [sink])
    daemon.feed([denial(time.time())], time.time())
    token.unlink()  # e.g. a Secret being rotated
    assert sink.tick(daemon.conn) == 0
    failures = registry.get_sample_value("aaprof_alerts_send_failures_total", {"alertmanager": url})
    assert failures == 1
