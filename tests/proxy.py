"""An HTTP proxy that only tunnels (CONNECT), as corporate proxies do for HTTPS.

It reaches each `host:port` asked for at the address `routes` gives it (else the name itself):
a test that routes a name the machine cannot resolve proves that its client used the proxy.
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ConnectProxy:
    def __init__(self, routes: Mapping[str, tuple[str, int]] | None = None) -> None:
        self.routes = dict(routes or {})
        self.tunnels: list[str] = []  # every CONNECT target, in order
        proxy = self

        class Tunnel(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_CONNECT(self) -> None:
                proxy.tunnels.append(self.path)
                host, _, port = self.path.rpartition(":")
                try:
                    up = socket.create_connection(proxy.routes.get(self.path, (host, int(port))))
                except OSError:
                    self.send_error(502, "cannot reach the upstream")
                    return
                self.send_response(200, "Connection established")
                self.end_headers()
                _pipe(self.connection, up)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Tunnel)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Bytes both ways until either side closes (or 30 s pass without any)."""
    try:
        while True:
            ready, _, _ = select.select([a, b], [], [], 30)
            if not ready:
                return
            for c in ready:
                data = c.recv(65536)
                if not data:
                    return
                (b if c is a else a).sendall(data)
    except OSError:
        return
    finally:
        b.close()
