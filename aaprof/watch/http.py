"""/metrics, /healthz and /readyz on the metrics address (a thread of the daemon)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from aaprof.errors import AaprofError
from aaprof.watch.exposition import exposition

# /healthz fails when the read loop has not turned for this long (it turns at least every poll).
STALL_SECONDS = 60.0


class Health:
    """What the probes report: the loop's last turn, and whether the backlog was read once."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.beat = clock()
        self.ready = False

    def alive(self) -> bool:
        return self.clock() - self.beat < STALL_SECONDS


def parse_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise AaprofError(f"metrics address {text!r}: expected HOST:PORT (e.g. 0.0.0.0:9750)")
    return host.strip("[]") or "0.0.0.0", int(port)


def serve(address: str, registry: CollectorRegistry, health: Health) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; returns the server (its server_address has the port)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, exposition(registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                ok = health.alive()
                self._send(200 if ok else 503, b"ok\n" if ok else b"stalled\n")
            elif path == "/readyz":
                ok = health.ready and health.alive()
                self._send(200 if ok else 503, b"ready\n" if ok else b"not ready\n")
            else:
                self._send(404, b"not found: /metrics, /healthz, /readyz\n")

        def _send(self, code: int, body: bytes, kind: str = "text/plain; charset=utf-8") -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    host, port = parse_address(address)
    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        raise AaprofError(f"metrics address {address}: {exc.strerror}") from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
