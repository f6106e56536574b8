"""HTTP/1.1 for the registry client, on the standard library's http.client: keep-alive
connections per host shared by threads, TLS contexts chosen per host, redirects followed.

Why not a third-party client: bakeguard verifies while `imagetools create` and the registry
are busy on the same machine, so the client's own cost counts. Importing httpx (with httpcore,
h11 and certifi) and making one client took ~85 ms of CPU here; http.client and ssl ~30 ms.
A registry client needs little of what they add: a handful of GET/HEAD requests per run.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl, urljoin, urlsplit

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from typing import Any

REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5


class TransportError(Exception):
    """The request got no HTTP answer (refused, reset, timed out, TLS failed)."""


class Request:
    __slots__ = ("body", "headers", "method", "url")

    def __init__(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> None:
        self.method, self.url, self.body = method, url, body
        self.headers = dict(headers or {})

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


class Pool:
    """Sends requests over kept-alive connections, one idle list per scheme and host.
    `context(host)` gives the TLS context of an https host. A reused connection the server
    closed meanwhile is replaced once, transparently (the request never reached it)."""

    def __init__(self, context: Callable[[str], ssl.SSLContext], timeout: float) -> None:
        self.context, self.timeout = context, timeout
        self._idle: dict[tuple[str, str], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    def _take(self, scheme: str, host: str) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get((scheme, host))
            if idle:
                return idle.pop(), True
        if scheme == "https":
            return http.client.HTTPSConnection(
                host, timeout=self.timeout, context=self.context(host)
            ), False
        return http.client.HTTPConnection(host, timeout=self.timeout), False

    def __call__(self, request: Request) -> Response:
        u = urlsplit(request.url)
        target = (u.path or "/") + (f"?{u.query}" if u.query else "")
        while True:
            conn, reused = self._take(u.scheme, u.netloc)
            try:
                conn.request(request.method, target, body=request.body, headers=request.headers)
                r = conn.getresponse()
                content = r.read()
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                stale = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
                if reused and isinstance(e, stale):
                    continue  # closed while idle: a new connection
                raise TransportError(f"{type(e).__name__}: {e}") from e
            if r.will_close:
                conn.close()
            else:
                with self._lock:
                    self._idle.setdefault((u.scheme, u.netloc), []).append(conn)
            headers: dict[str, str] = {}
            for k, v in r.getheaders():  # repeated headers joined, as RFC 9110 allows
                key = k.lower()
                headers[key] = f"{headers[key]}, {v}" if key in headers else v
            return Response(r.status, headers, content, request.url)

    def close(self) -> None:
        with self._lock:
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
        request = Request(method, url, headers)
    raise TransportError(f"more than {MAX_REDIRECTS} redirects from {request.url}")
