"""Serve an ASGI app on a loopback port from a background thread, for tests that need a real socket.

The listening socket is bound before the server starts, so the port is known at once and
early connections wait in the backlog: nothing polls or sleeps until the server is up.
uvicorn's own log lines (an app exception from an injected dropped connection, say) are
kept out of the process's log handlers while the server runs, so they cannot mix into
the output a test is looking at; the logging configuration is restored afterwards.
"""

from __future__ import annotations

import logging
import socket
import threading
from types import TracebackType
from typing import Any

import uvicorn



class LoopbackServer:
    """``with LoopbackServer(app) as server:`` serves ``app`` at ``server.url`` until the block ends."""

    def __init__(self, app: Any, *, scheme: str = "http", **uvicorn_options: Any) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_config=None, lifespan="off", access_log=False, **uvicorn_options)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)
        self._quiet = logging.NullHandler()
        self._saved_propagate = True

    def __enter__(self) -> LoopbackServer:
        uvicorn_logger = logging.getLogger("uvicorn")  # parent of uvicorn.error, .access, .asgi
        self._saved_propagate = uvicorn_logger.propagate
        uvicorn_logger.addHandler(self._quiet)
        uvicorn_logger.propagate = False
        self._socket.listen(128)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
        uvicorn_logger = logging.getLogger("uvicorn")
        uvicorn_logger.removeHandler(self._quiet)
        uvicorn_logger.propagate = self._saved_propagate
