"""HTTP/1.1 for the registry client, on the standard library's http.client: keep-alive
connections per host shared by threads, TLS contexts chosen per host, redirects followed,
and the proxy variables docker's and buildx's Go HTTP clients obey (HTTPS_PROXY, HTTP_PROXY,
NO_PROXY; loopback never proxied), so verification reaches a registry the way the push did.

Why not a third-party client: bakeguard verifies while `imagetools create` and the registry
are busy on the same machine, so the client's own cost counts. Importing httpx (with httpcore,
h11 and certifi) and making one client cost several times what http.client and ssl do, and a
registry client needs little of what they add: a handful of GET/HEAD requests per run.

Every request has a deadline (`Request.deadline`, on the pool's clock), and no wait of its
own passes it: connecting, the TLS handshake, the proxy's CONNECT, sending and each read
(bakeguard.registry.timed). Every body is read up to a cap (`Request.limit`, CAPS below) and
no further, whatever Content-Length says and however long a chunked body goes on.

A kept-alive connection is used again only while its framing is beyond doubt: one whose
answer failed mid-read, was cut short, was not read to its end (a body past its cap), or may
carry a body HTTP forbids (an error answer to a HEAD), or that has bytes waiting nobody asked
for, is closed. A request that fails on a reused connection is sent once more on a new one.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl, urljoin, urlsplit

from bakeguard.registry.proxy import proxy_auth, proxy_for
from bakeguard.registry.timed import (
    TimedSSLSocket,
    answered,
    bind,
    open_connection,
    waiting,
)
from bakeguard.registry.timed import kind as failure_kind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5

# Body caps (CAPS). A manifest: containerd refuses to resolve a larger one (MaxManifestSize =
# 4 * 1048 * 1048 bytes, core/remotes/docker/resolver.go: meant as 4 MiB, 4.7 % more), and
# distribution refuses to store one past 4 MiB (maxManifestBodySize = 4 * 1024 * 1024,
# registry/handlers/manifests.go); containerd's figure, so that bakeguard refuses nothing
# docker itself pulls. An image config blob: the same (containers/image caps configs at
# 4 MiB, internal/iolimits/iolimits.go). A token answer: a JSON object holding a JWT of a few
# KB; 1 MiB, as containers/image (MaxAuthTokenBodySize), is ample room and a bounded cost
# (containerd decodes it without a cap). An error answer: only its first error's code and
# message are read; 64 KiB as containerd reads of one (core/remotes/errors/errors.go: 64000
# bytes), the rest not read (truncated, not an error: the status is the answer).
MANIFEST_CAP = 4 * 1048 * 1048
CONFIG_CAP = MANIFEST_CAP
TOKEN_CAP = 1 << 20
ERROR_CAP = 64 << 10


def size_text(n: int) -> str:
    """A cap for people: 1 MiB, 4.19 MiB (4393216 bytes)."""
    mib = n / (1 << 20)
    return f"{mib:g} MiB" if mib == int(mib) else f"{mib:.3g} MiB ({n} bytes)"


class TransportError(Exception):
    """The request got no usable HTTP answer. `kind` says how: "dns" (the name does not
    resolve), "refused", "reset" (closed or reset unanswered), "tls" (the handshake failed),
    "proxy" (the proxy refused the tunnel), "timeout-connect", "timeout-tls" or "timeout"
    (the deadline passed while connecting, in the handshake, or waiting for the answer);
    and for an answer that came but cannot be used: "timeout-body" (its body had not ended
    by the deadline), "short" (broken off before its end), "garbled" (not HTTP: a status
    line or framing that does not parse), "too-large" (more than the request's `limit`,
    which is then set); "bad-url" (not an http(s) URL of visible ASCII: nothing sent);
    "other"."""

    def __init__(self, message: str, kind: str = "other", limit: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.limit = limit

    @property
    def timed_out(self) -> bool:
        return self.kind.startswith("timeout")


class Request:
    __slots__ = ("body", "deadline", "headers", "limit", "method", "url")

    def __init__(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        deadline: float | None = None,
        limit: int = MANIFEST_CAP,
    ) -> None:
        self.method, self.url, self.body = method, url, body
        self.headers = dict(headers or {})
        self.deadline = deadline  # on the sender's clock; None: the sender's own bound
        self.limit = limit  # the most of a body read (an error answer's: ERROR_CAP at most)

    @property
    def origin(self) -> str:
        """scheme://host[:port]: what credentials and tokens are kept per (auth.Keyring)."""
        return origin(self.url)

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
    """An answer: status, headers (names in lower case), the body (see Pool for its caps),
    the URL asked."""

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


def origin(url: str) -> str:
    u = urlsplit(url)
    return f"{u.scheme.lower()}://{u.netloc.lower()}"


def _sendable(url: str) -> bool:
    """An absolute http(s) URL of visible ASCII: all a request goes to (a redirect's Location
    or a realm is the registry's text; Go's client refuses other schemes too)."""
    u = urlsplit(url)
    visible = all("!" <= c <= "~" for c in url)
    return u.scheme in ("http", "https") and bool(u.hostname) and "@" not in u.netloc and visible


def _read(r: http.client.HTTPResponse, request: Request) -> tuple[bytes, bool]:
    """The body, read up to the request's limit: (body, whole). An error answer's body (or a
    redirect's) is cut at ERROR_CAP, quietly: its status is the answer. Any other body past
    the limit is refused, unread, the same whether Content-Length announced it or a chunked
    body goes on and on."""
    error = r.status >= 300
    limit = min(request.limit, ERROR_CAP) if error else request.limit
    announced = r.length
    if not error and announced is not None and announced > limit:
        raise TransportError(f"{announced} bytes announced", "too-large", limit)
    data = r.read(limit + 1)
    while len(data) <= limit and not r.isclosed():  # a body without a length: to its end
        more = r.read(limit + 1 - len(data))
        if not more:
            break
        data += more
    if announced is not None and len(data) < min(announced, limit + 1):
        # http.client returns a body cut short quietly: said as what it is
        raise http.client.IncompleteRead(data, announced - len(data))
    if len(data) <= limit and r.isclosed():
        return data, True
    if error:
        return data[:limit], False
    raise TransportError(f"more than {limit} bytes", "too-large", limit)


class Pool:
    """Sends requests over kept-alive connections, one idle list per scheme and host.
    `context(host)` gives the TLS context of an https host. A request that fails on a reused
    connection (closed while idle, or out of step) is sent again once, on a new connection.
    A request without a deadline of its own gets `timeout` seconds."""

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

    def _reuse(self, scheme: str, host: str) -> http.client.HTTPConnection | None:
        """An idle connection to host with nothing waiting on it (others are closed)."""
        while True:
            with self._lock:
                idle = self._idle.get((scheme, host))
                if not idle:
                    return None
                conn = idle.pop()
            if not waiting(conn.sock):
                return conn
            conn.close()

    def _take(
        self, scheme: str, host: str, fresh: bool = False
    ) -> tuple[http.client.HTTPConnection, bool]:
        idle = None if fresh else self._reuse(scheme, host)
        if idle is not None:
            return idle, True
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
            ctx.sslsocket_class = TimedSSLSocket
            if proxy is None:
                conn = http.client.HTTPSConnection(host, timeout=self.timeout, context=ctx)
            else:  # CONNECT through the proxy, then TLS with the registry itself
                conn = http.client.HTTPSConnection(via, timeout=self.timeout, context=ctx)
                conn.set_tunnel(host, headers=proxy_auth(proxy))
        else:
            conn = http.client.HTTPConnection(via if proxy else host, timeout=self.timeout)
        conn._create_connection = open_connection  # type: ignore[attr-defined]
        return conn, False

    def __call__(self, request: Request) -> Response:
        u = urlsplit(request.url)
        if not _sendable(request.url):
            raise TransportError(f"{request.url[:200]!r} is not an http(s) URL", "bad-url")
        target = (u.path or "/") + (f"?{u.query}" if u.query else "")
        headers = request.headers
        proxy = proxy_for(u.scheme, u.netloc, self.environ) if u.scheme == "http" else None
        if proxy is not None:  # a plain-HTTP request through a proxy names the whole URL
            target = f"http://{u.netloc}{target}"
            headers = {**headers, **proxy_auth(proxy)}
        deadline = self.clock() + self.timeout if request.deadline is None else request.deadline
        fresh = False
        try:
            while True:
                bind(deadline, self.clock)
                conn, reused = self._take(u.scheme, u.netloc, fresh)
                try:
                    conn.request(request.method, target, body=request.body, headers=headers)
                    r = conn.getresponse()
                    answered()
                    content, whole = _read(r, request)
                except TransportError:
                    conn.close()  # a body past its cap, left unread: the connection with it
                    raise
                except (OSError, http.client.HTTPException) as e:
                    conn.close()
                    if reused and not isinstance(e, TimeoutError):
                        fresh = True  # closed while idle, or out of step: once more, anew
                        continue
                    raise TransportError(f"{type(e).__name__}: {e}", failure_kind(e)) from e
                break
        finally:
            bind(None, self.clock)
        # An error answer to a HEAD may come with a body HTTP forbids (a front's error page):
        # its Content-Length cannot tell, and the body may still be on its way.
        in_step = whole and not (request.method == "HEAD" and r.status >= 300)
        if r.will_close or not in_step or waiting(conn.sock):
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


def follow(
    send: Send, request: Request, authorize: Callable[[Request], None] | None = None
) -> Response:
    """send(request), following redirects (registries send blob downloads to a CDN).
    `authorize` sets each hop's Authorization for that hop's own origin (auth.Keyring, as
    containerd authorizes every redirect for its own host); without it the caller's
    Authorization goes to the first origin only. A body is never carried to another origin:
    a 307 or 308 there is the answer."""
    first = request.origin
    for _ in range(MAX_REDIRECTS + 1):
        if authorize is not None:
            authorize(request)
        elif request.origin != first:
            request.headers.pop("Authorization", None)
        r = send(request)
        r.url = r.url or request.url  # the URL the answer came from, for a sender that omits it
        location = r.header("location")
        if r.status_code not in REDIRECTS or not location:
            return r
        url = urljoin(request.url, location)
        if not _sendable(url):
            raise TransportError(f"a redirect to {location[:200]!r}, not an http(s) URL", "bad-url")
        # 307 and 308 repeat the request as it was, body included; the others drop it
        keeps_body = r.status_code in (307, 308) and request.body is not None
        if keeps_body and origin(url) != request.origin:
            return r
        method = "GET" if r.status_code == 303 and request.method != "HEAD" else request.method
        body = request.body if keeps_body else None
        request = Request(method, url, request.headers, body, request.deadline, request.limit)
    raise TransportError(f"more than {MAX_REDIRECTS} redirects from {request.url}")
