"""HTTP/1.1 for the registry client, on the standard library's http.client: keep-alive
connections per host shared by threads, TLS contexts chosen per host, redirects followed,
and the proxy variables docker's and buildx's Go HTTP clients obey (HTTPS_PROXY, HTTP_PROXY,
NO_PROXY; loopback never proxied), so verification reaches a registry the way the push did.

Why not a third-party client: bakeguard verifies while `imagetools create` and the registry
are busy on the same machine, so the client's own cost counts. Importing httpx (with httpcore,
h11 and certifi) and making one client took ~85 ms of CPU here; http.client and ssl ~30 ms.
A registry client needs little of what they add: a handful of GET/HEAD requests per run.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import os
import threading
from collections.abc import Callable, Mapping
from urllib.parse import SplitResult, parse_qsl, unquote, urljoin, urlsplit

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


def _hostname(host: str) -> tuple[str, str]:
    """(name, port) of host[:port], brackets of an IPv6 address removed."""
    u = urlsplit(f"//{host}")
    return (u.hostname or ""), (str(u.port) if u.port else "")


def is_loopback(host: str) -> bool:
    """host[:port] is localhost or a loopback address."""
    name, _ = _hostname(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _no_proxy(name: str, port: str, entries: str) -> bool:
    """Go's NO_PROXY rules: "*"; an IP or CIDR; a name ("y.com" matches y.com and its
    subdomains, ".y.com" only subdomains), each optionally with a port."""
    for raw in (e.strip().lower() for e in entries.split(",")):
        if not raw:
            continue
        if raw == "*":
            return True
        try:
            if ipaddress.ip_address(name) in ipaddress.ip_network(raw, strict=False):
                return True
            continue
        except ValueError:
            pass
        entry, entry_port = _hostname(raw) if ":" in raw and "/" not in raw else (raw, "")
        if entry_port and entry_port != port:
            continue
        if entry.startswith("."):
            if name.endswith(entry):
                return True
        elif name == entry or name.endswith(f".{entry}"):
            return True
    return False


def proxy_for(scheme: str, host: str, environ: Mapping[str, str]) -> SplitResult | None:
    """The proxy a request to scheme://host goes through, as Go's net/http decides it
    (httpproxy.FromEnvironment): HTTPS_PROXY for https, HTTP_PROXY for http, upper case
    first; NO_PROXY exempts; requests to loopback are never proxied."""

    def var(name: str) -> str:
        return environ.get(name.upper()) or environ.get(name) or ""

    url = var("https_proxy") if scheme == "https" else var("http_proxy")
    name, port = _hostname(host)
    if not url or is_loopback(host) or _no_proxy(name, port, var("no_proxy")):
        return None
    return urlsplit(url if "://" in url else f"http://{url}")


def _proxy_auth(proxy: SplitResult) -> dict[str, str]:
    if proxy.username is None:
        return {}
    raw = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()
    return {"Proxy-Authorization": "Basic " + base64.b64encode(raw).decode()}


class Pool:
    """Sends requests over kept-alive connections, one idle list per scheme and host.
    `context(host)` gives the TLS context of an https host. A reused connection the server
    closed meanwhile is replaced once, transparently (the request never reached it)."""

    def __init__(
        self,
        context: Callable[[str], ssl.SSLContext],
        timeout: float,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.context, self.timeout = context, timeout
        self.environ = os.environ if environ is None else environ
        self._idle: dict[tuple[str, str], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

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
        if scheme == "https":
            if proxy is None:
                conn = http.client.HTTPSConnection(
                    host, timeout=self.timeout, context=self.context(host)
                )
            else:  # CONNECT through the proxy, then TLS with the registry itself
                conn = http.client.HTTPSConnection(
                    via, timeout=self.timeout, context=self.context(host)
                )
                conn.set_tunnel(host, headers=_proxy_auth(proxy))
            return conn, False
        if proxy is not None:
            return http.client.HTTPConnection(via, timeout=self.timeout), False
        return http.client.HTTPConnection(host, timeout=self.timeout), False

    def __call__(self, request: Request) -> Response:
        u = urlsplit(request.url)
        target = (u.path or "/") + (f"?{u.query}" if u.query else "")
        headers = request.headers
        proxy = proxy_for(u.scheme, u.netloc, self.environ) if u.scheme == "http" else None
        if proxy is not None:  # a plain-HTTP request through a proxy names the whole URL
            target = f"http://{u.netloc}{target}"
            headers = {**headers, **_proxy_auth(proxy)}
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
                raise TransportError(f"{type(e).__name__}: {e}") from e
            if r.will_close:
                conn.close()
            else:
                with self._lock:
                    self._idle.setdefault((u.scheme, u.netloc), []).append(conn)
            got: dict[str, str] = {}
            for k, v in r.getheaders():  # repeated headers joined, as RFC 9110 allows
                key = k.lower()
                got[key] = f"{got[key]}, {v}" if key in got else v
            return Response(r.status, got, content, request.url)

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
        # 307 and 308 repeat the request as it was, body included; the others drop it
        body = request.body if r.status_code in (307, 308) else None
        request = Request(method, url, headers, body)
    raise TransportError(f"more than {MAX_REDIRECTS} redirects from {request.url}")
