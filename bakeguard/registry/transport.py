"""HTTP/1.1 for the registry client, on the standard library's http.client: keep-alive
connections per host shared by threads, TLS contexts chosen per host, redirects followed,
and the proxy variables docker's and buildx's Go HTTP clients obey (HTTPS_PROXY, HTTP_PROXY,
NO_PROXY; loopback never proxied), so verification reaches a registry the way the push did.

Why not a third-party client: bakeguard verifies while `imagetools create` and the registry
are busy on the same machine, so the client's own cost counts. Importing httpx (with httpcore,
h11 and certifi) and making one client cost several times what http.client and ssl do, and a
registry client needs little of what they add: a handful of GET/HEAD requests per run.

Every request has a deadline (`Request.deadline`, on the pool's clock), and no wait of its
own passes it: connecting, the TLS handshake, the proxy's CONNECT, sending and each read.
Python's socket timeouts are per call, so a server that accepts and never answers, or one
that sends a byte now and then, would otherwise hold a request for as long as it likes.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl, urljoin, urlsplit

from bakeguard.registry.proxy import proxy_auth, proxy_for

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5


class TransportError(Exception):
    """The request got no HTTP answer. `kind` says how: "dns" (the name does not resolve),
    "refused", "reset" (closed or reset unanswered), "tls" (the handshake failed), "proxy"
    (the proxy refused the tunnel), "timeout-connect", "timeout-tls" or "timeout" (the
    deadline passed while connecting, in the handshake, or waiting for the answer), "other"."""

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind

    @property
    def timed_out(self) -> bool:
        return self.kind.startswith("timeout")


class Request:
    __slots__ = ("body", "deadline", "headers", "method", "url")

    def __init__(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        deadline: float | None = None,
    ) -> None:
        self.method, self.url, self.body = method, url, body
        self.headers = dict(headers or {})
        self.deadline = deadline  # on the sender's clock; None: the sender's own bound

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.url).query))


class Response:
    """An answer: status, headers (names in lower case), the whole body, the URL asked."""

    __slots__ = ("content", "headers", "status_code", "url")

    def __init__(
        self,
        status_code: int,
        headers: Mapping[str, str] | None = None,
        content: bytes = b"",
        url: str = "",
        json_body: Any = None,
    ) -> None:
        self.status_code, self.content, self.url = status_code, content, url
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}
        if json_body is not None:
            self.content = json.dumps(json_body).encode()
            self.headers.setdefault("content-type", "application/json")

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def json(self) -> Any:
        return json.loads(self.content)


Send = Callable[[Request], Response]


# The deadline of the request this thread is sending (Pool.__call__), read by the sockets
# below before each blocking call, and what the connection was doing when it passed.
_bound = threading.local()


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


class _TimedSocket(socket.socket):
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


class _TimedSSLSocket(_TimedSocket, ssl.SSLSocket):
    """What the pool's TLS contexts wrap sockets in (SSLContext.sslsocket_class): the
    handshake too, and the reads and writes of _TimedSocket, which come first in the order
    of methods, before ssl.SSLSocket's own."""

    def do_handshake(self, block: bool = False) -> None:
        _arm(self, "tls")
        super().do_handshake(block)


def _open(address: tuple[str, int], *_ignored: Any) -> socket.socket:
    """socket.create_connection's work, with a socket whose waits keep to the deadline.
    (Name resolution has no timeout of its own in the standard library.)"""
    host, port = address
    _bound.phase = "dns"
    error: OSError | None = None
    for family, kind, proto, _, where in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
        sock = _TimedSocket(family, kind, proto)
        try:
            sock.connect(where)
            return sock
        except OSError as e:
            sock.close()
            error = e
            if isinstance(e, TimeoutError):
                break  # the deadline is spent: no time for the next address
    raise error or OSError(f"{host}: no address")


def _kind(e: BaseException) -> str:
    """TransportError.kind of what a request raised."""
    if isinstance(e, socket.gaierror):
        return "dns"
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    if isinstance(e, TimeoutError):
        phase = getattr(_bound, "phase", "")
        if phase in ("dns", "connect"):
            return "timeout-connect"
        return "timeout-tls" if phase == "tls" else "timeout"
    if isinstance(e, ssl.SSLError):
        return "tls"
    if isinstance(e, (ConnectionError, http.client.RemoteDisconnected, http.client.IncompleteRead)):
        return "reset"
    if isinstance(e, OSError) and str(e).startswith("Tunnel connection failed"):
        return "proxy"
    return "other"


class Pool:
    """Sends requests over kept-alive connections, one idle list per scheme and host.
    `context(host)` gives the TLS context of an https host. A reused connection the server
    closed meanwhile is replaced once, transparently (the request never reached it). A
    request without a deadline of its own gets `timeout` seconds."""

    def __init__(
        self,
        context: Callable[[str], ssl.SSLContext],
        timeout: float,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.context, self.timeout, self.clock = context, timeout, clock
        self.environ = os.environ if environ is None else environ
        self._idle: dict[tuple[str, str], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def _take(self, scheme: str, host: str) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get((scheme, host))
            if idle:
                return idle.pop(), True
        proxy = proxy_for(scheme, host, self.environ)
        if proxy is not None and proxy.scheme != "http":
            raise TransportError(
                f"proxy {proxy.scheme}://{proxy.hostname}: only http:// proxies are supported"
            )
        if proxy is not None:
            name = proxy.hostname or ""
            via = f"[{name}]" if ":" in name else name
            via = f"{via}:{proxy.port or 80}"
        conn: http.client.HTTPConnection
        if scheme == "https":
            ctx = self.context(host)
            ctx.sslsocket_class = _TimedSSLSocket
            if proxy is None:
                conn = http.client.HTTPSConnection(host, timeout=self.timeout, context=ctx)
            else:  # CONNECT through the proxy, then TLS with the registry itself
                conn = http.client.HTTPSConnection(via, timeout=self.timeout, context=ctx)
                conn.set_tunnel(host, headers=proxy_auth(proxy))
        else:
            conn = http.client.HTTPConnection(via if proxy else host, timeout=self.timeout)
        conn._create_connection = _open  # type: ignore[attr-defined]
        return conn, False

    def __call__(self, request: Request) -> Response:
        u = urlsplit(request.url)
        target = (u.path or "/") + (f"?{u.query}" if u.query else "")
        headers = request.headers
        proxy = proxy_for(u.scheme, u.netloc, self.environ) if u.scheme == "http" else None
        if proxy is not None:  # a plain-HTTP request through a proxy names the whole URL
            target = f"http://{u.netloc}{target}"
            headers = {**headers, **proxy_auth(proxy)}
        deadline = request.deadline
        _bound.deadline = self.clock() + self.timeout if deadline is None else deadline
        _bound.clock = self.clock
        try:
            while True:
                conn, reused = self._take(u.scheme, u.netloc)
                try:
                    conn.request(request.method, target, body=request.body, headers=headers)
                    r = conn.getresponse()
                    content = r.read()
                except (OSError, http.client.HTTPException) as e:
                    conn.close()
                    stale = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
                    if reused and isinstance(e, stale):
                        continue  # closed while idle: a new connection
                    raise TransportError(f"{type(e).__name__}: {e}", _kind(e)) from e
                break
        finally:
            _bound.deadline = None
        if r.will_close:
            conn.close()
        else:
            with self._lock:
                keep = not self._closed
                if keep:
                    self._idle.setdefault((u.scheme, u.netloc), []).append(conn)
            if not keep:  # the pool was closed meanwhile (a warm-up's late answer)
                conn.close()
        got: dict[str, str] = {}
        for k, v in r.getheaders():  # repeated headers joined, as RFC 9110 allows
            key = k.lower()
            got[key] = f"{got[key]}, {v}" if key in got else v
        return Response(r.status, got, content, request.url)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for c in conns:
            c.close()


def follow(send: Send, request: Request) -> Response:
    """send(request), following redirects (registries send blob downloads to a CDN); the
    Authorization header does not go to another host."""
    for _ in range(MAX_REDIRECTS + 1):
        r = send(request)
        location = r.header("location")
        if r.status_code not in REDIRECTS or not location:
            return r
        url = urljoin(request.url, location)
        headers = dict(request.headers)
        if urlsplit(url).netloc != request.host:
            headers.pop("Authorization", None)
        method = "GET" if r.status_code == 303 and request.method != "HEAD" else request.method
        # 307 and 308 repeat the request as it was, body included; the others drop it
        body = request.body if r.status_code in (307, 308) else None
        request = Request(method, url, headers, body, request.deadline)
    raise TransportError(f"more than {MAX_REDIRECTS} redirects from {request.url}")
