"""The Alertmanager v2 API client: `POST <url>/api/v2/alerts`, TLS and credentials from files."""

from __future__ import annotations

import base64
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from aaprof.errors import AaprofError


class DeliveryError(AaprofError):
    """An Alertmanager did not accept a batch; `rejected` when it refused the payload (400)."""

    def __init__(self, message: str, *, rejected: bool = False) -> None:
        super().__init__(message)
        self.rejected = rejected


@dataclass(frozen=True, slots=True)
class Credentials:
    """How to reach the Alertmanagers. Secrets are files, read at each send (so they rotate).

    Raises:
        AaprofError: Both a bearer token and basic auth, a client key without its certificate.
    """

    bearer_token_file: Path | None = None
    basic_auth_user: str | None = None
    basic_auth_password_file: Path | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure_skip_verify: bool = False

    def __post_init__(self) -> None:
        if self.bearer_token_file and self.basic_auth_user:
            raise AaprofError("use a bearer token or basic auth for Alertmanager, not both")
        if self.key_file and not self.cert_file:
            raise AaprofError("an Alertmanager client key needs its certificate (--cert-file)")

    def header(self) -> str | None:
        """The Authorization header's value, or None."""
        if self.bearer_token_file:
            return f"Bearer {_secret(self.bearer_token_file)}"
        if self.basic_auth_user is not None:
            secret = self.basic_auth_password_file
            password = _secret(secret) if secret else ""
            pair = f"{self.basic_auth_user}:{password}".encode()
            return f"Basic {base64.b64encode(pair).decode()}"
        return None

    def tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if self.cert_file:
            context.load_cert_chain(str(self.cert_file), str(self.key_file or self.cert_file))
        if self.insecure_skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def _secret(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise AaprofError(f"{path}: cannot read: {exc.strerror}") from None


def endpoint(url: str) -> str:
    """The alerts endpoint of an Alertmanager given by its base URL (a path prefix is kept).

    Raises:
        AaprofError: Not an http(s) URL.
    """
    if not url.startswith(("http://", "https://")):
        raise AaprofError(f"--alertmanager {url!r}: not an http:// or https:// URL")
    return url.rstrip("/") + "/api/v2/alerts"


class HttpTransport:
    """Posts a JSON body to an Alertmanager; raises DeliveryError unless it answers 2xx."""

    def __init__(self, credentials: Credentials | None = None, timeout: float = 10.0) -> None:
        self.credentials = credentials or Credentials()
        self.timeout = timeout
        self._context: ssl.SSLContext | None = None

    def post(self, url: str, body: bytes) -> None:
        headers = {"Content-Type": "application/json"}
        try:
            header = self.credentials.header()
            if url.startswith("https://") and self._context is None:
                self._context = self.credentials.tls()
        except (AaprofError, OSError, ssl.SSLError) as exc:  # a secret or certificate to fix
            raise DeliveryError(f"{url}: {exc}") from None
        if header:
            headers["Authorization"] = header
        request = urllib.request.Request(endpoint(url), data=body, headers=headers)
        context = self._context if url.startswith("https://") else None
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=context) as reply:
                reply.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace").strip()
            raise DeliveryError(
                f"{url}: HTTP {exc.code} {detail}", rejected=exc.code == 400
            ) from None
        except (OSError, ssl.SSLError) as exc:
            raise DeliveryError(f"{url}: {exc}") from None
