"""A server for tests of waits: it accepts connections and holds them, never answering (a
registry that hangs), or answering one byte at a time. Unit tests point the transport at
it; stack tests point a build at it."""

from __future__ import annotations

import socket
import threading


class Held:
    """A listener that accepts connections and holds them: it never answers (not even a TLS
    handshake), or, with `drip`, sends `drip` one byte at a time, `every` seconds apart.
    `reached` is set once a client has connected."""

    def __init__(self, drip: bytes = b"", every: float = 0.0) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.drip, self.every = drip, every
        self.done = threading.Event()
        self.reached = threading.Event()
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            self.reached.set()
            if self.drip:
                threading.Thread(target=self._send, args=(conn,), daemon=True).start()

    def _send(self, conn: socket.socket) -> None:
        for i in range(len(self.drip)):
            if self.done.wait(self.every):
                return
            try:
                conn.sendall(self.drip[i : i + 1])
            except OSError:
                return

    def close(self) -> None:
        self.done.set()
        self.sock.close()
        for c in self.held:
            c.close()
