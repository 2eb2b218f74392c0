"""A real HTTP receiver of webhook notices, in a thread of the test process (any test, async or not).

It records each POST as it arrives (its path, its JSON body, the monotonic instant), answers
the statuses a test scripts (200 once the script is used up), and can hang: hold every answer
until :meth:`Receiver.release`. Tests wait on :meth:`Receiver.wait_for` (a deadline, no fixed sleep).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    """One POST the receiver took in."""

    path: str
    body: dict[str, Any]
    at: float
    """time.monotonic() when it arrived."""


class Receiver:
    """A webhook receiver on 127.0.0.1 (see the module); use as a context manager."""

    def __init__(self, statuses: Iterable[int] = (), *, hang: bool = False) -> None:
        self.statuses = list(statuses)
        self.received: list[Received] = []
        self._released = threading.Event()
        if not hang:
            self._released.set()
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"null")
                with receiver._changed:
                    receiver.received.append(Received(self.path, body, time.monotonic()))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver._changed.notify_all()
                receiver._released.wait()
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
                """Quiet: the test reads what was received, not an access log."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="webhook-receiver")

    @property
    def origin(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        """The URL of ``path`` (``/hooks/SECRET``) on this receiver."""
        return f"{self.origin}{path}"

    def release(self) -> None:
        """Answer the held requests and every later one at once."""
        self._released.set()

    def wait_for(self, count: int, *, timeout: float = 10.0) -> list[Received]:
        """Wait until ``count`` posts have arrived and return them all; raise ``TimeoutError`` after ``timeout`` s."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.received) >= count, timeout=timeout):
                raise TimeoutError(f"{len(self.received)} of {count} webhook posts arrived within {timeout} s")
            return list(self.received)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
