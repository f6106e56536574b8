"""Sockets whose every wait keeps to the deadline of the request being sent, whether an idle
one has bytes nobody asked for, and what a failed request's exception says about how it
failed (TransportError.kind).

Python's socket timeouts are per call, so a server that accepts and never answers, or one
that sends a byte now and then, would otherwise hold a request for as long as it likes:
before each blocking call the socket's timeout is set to what is left of the request."""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# The deadline of the request this thread is sending (Pool.__call__), read by the sockets
# below before each blocking call; what the connection was doing when it passed; and
# whether the answer's head had come (a timeout then is a body that did not end).
_bound = threading.local()


def bind(deadline: float | None, clock: Callable[[], float]) -> None:
    """This thread's requests keep to `deadline` on `clock` from now (None: no bound)."""
    _bound.deadline, _bound.clock, _bound.answered = deadline, clock, False


def answered() -> None:
    """The answer's status line and headers came: what follows is its body."""
    _bound.answered = True


def _arm(sock: socket.socket, phase: str) -> None:
    """The socket's timeout set to what is left of this thread's request, before one blocking
    call: within a request every wait shares one deadline (each call's own timeout would
    let a slow server stretch a request without end)."""
    _bound.phase = phase
    deadline = getattr(_bound, "deadline", None)
    if deadline is None:  # not inside Pool.__call__ (closing a connection): no wait to bound
        return
    left = deadline - _bound.clock()
    if left <= 0:
        raise TimeoutError("timed out")
    sock.settimeout(left)


class TimedSocket(socket.socket):
    """A plain connection: connecting, and every read and write, within the deadline."""

    def connect(self, address: Any) -> None:
        _arm(self, "connect")
        super().connect(address)

    def recv(self, *args: Any, **kwargs: Any) -> bytes:
        _arm(self, "read")
        return super().recv(*args, **kwargs)

    def recv_into(self, *args: Any, **kwargs: Any) -> int:
        _arm(self, "read")
        return super().recv_into(*args, **kwargs)

    def send(self, *args: Any, **kwargs: Any) -> int:
        _arm(self, "send")
        return super().send(*args, **kwargs)

    def sendall(self, *args: Any, **kwargs: Any) -> None:
        _arm(self, "send")
        super().sendall(*args, **kwargs)


class TimedSSLSocket(TimedSocket, ssl.SSLSocket):
    """What the pool's TLS contexts wrap sockets in (SSLContext.sslsocket_class): the
    handshake too, and the reads and writes of TimedSocket, which come first in the order
    of methods, before ssl.SSLSocket's own."""

    def do_handshake(self, block: bool = False) -> None:
        _arm(self, "tls")
        super().do_handshake(block)


def open_connection(address: tuple[str, int], *_ignored: Any) -> socket.socket:
    """socket.create_connection's work, with a socket whose waits keep to the deadline.
    (Name resolution has no timeout of its own in the standard library.)"""
    host, port = address
    _bound.phase = "dns"
    error: OSError | None = None
    for family, kind, proto, _, where in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
        sock = TimedSocket(family, kind, proto)
        try:
            sock.connect(where)
            return sock
        except OSError as e:
            sock.close()
            error = e
            if isinstance(e, TimeoutError):
                break  # the deadline is spent: no time for the next address
    raise error or OSError(f"{host}: no address")


def waiting(sock: socket.socket | None) -> bool:
    """Bytes (or the end) a kept-alive connection has waiting that no request asked for: what
    is left of a body longer than announced, or one sent with an answer to a HEAD. Used again,
    the connection would read them as the next answer's status line."""
    if sock is None:
        return True
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):  # closed, or a descriptor select cannot watch
        return True
    return bool(readable)


def kind(e: BaseException) -> str:
    """TransportError.kind of what a request raised (see TransportError)."""
    if isinstance(e, socket.gaierror):
        return "dns"
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    if isinstance(e, TimeoutError):
        if getattr(_bound, "answered", False):
            return "timeout-body"
        phase = getattr(_bound, "phase", "")
        if phase in ("dns", "connect"):
            return "timeout-connect"
        return "timeout-tls" if phase == "tls" else "timeout"
    if isinstance(e, ssl.SSLError):
        return "tls"
    if isinstance(e, http.client.IncompleteRead):
        return "short"  # the body ended before its announced length
    # RemoteDisconnected is a BadStatusLine too: closed before a status line came
    if isinstance(e, (ConnectionError, http.client.RemoteDisconnected)):
        return "short" if getattr(_bound, "answered", False) else "reset"
    if isinstance(e, http.client.HTTPException):
        return "garbled"  # BadStatusLine, LineTooLong, a bad chunk size...: not HTTP framing
    if isinstance(e, OSError) and str(e).startswith("Tunnel connection failed"):
        return "proxy"
    return "other"
