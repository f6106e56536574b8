"""One registry host as a run speaks to it (its base URL, the run's per-host credentials,
and where plain HTTP is allowed: loopback and the engine's insecure registries)."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bakeguard.registry.auth import Keyring
from bakeguard.registry.proxy import is_loopback
from bakeguard.registry.transport import (
    MANIFEST_CAP,
    Request,
    Response,
    Send,
    follow,
    origin,
)


def is_insecure(host: str, insecure: Iterable[str]) -> bool:
    """Loopback, a name the engine lists as insecure, or an address in an insecure CIDR."""
    if is_loopback(host):
        return True
    name = host.rsplit(":", 1)[0]
    for entry in insecure:
        if entry in (host, name):
            return True
        try:
            if ipaddress.ip_address(name) in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def tls_context(host: str, certs_dir: Path, insecure: Iterable[str]) -> ssl.SSLContext:
    """TLS for host: the system CAs plus certs.d's (and its client certificate); no
    verification for an insecure registry without a CA of its own."""
    ca_dirs = (certs_dir / host, certs_dir / host.replace("127.0.0.1", "localhost"))
    if is_insecure(host, insecure) and not (certs_dir / host).is_dir():
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    ctx = ssl.create_default_context()
    for d in ca_dirs:
        for ca in sorted(d.glob("*.crt")) if d.is_dir() else []:
            ctx.load_verify_locations(cafile=str(ca))
        cert, key = d / "client.cert", d / "client.key"
        if cert.exists() and key.exists():
            ctx.load_cert_chain(str(cert), str(key))
    return ctx


@dataclass
class Host:
    """One registry host as this run speaks to it: its base URL; the run's keyring gives
    each request (and each of its redirects) its own origin's credentials."""

    base: str  # scheme://host
    keyring: Keyring
    send: Send

    @property
    def scheme(self) -> str:
        return self.base.split(":", 1)[0]

    def request(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes | None = None,
        deadline: float | None = None,
        limit: int = MANIFEST_CAP,
    ) -> Response:
        """One request (redirects followed); the 401 challenge of each origin it ends at is
        answered once (a write's challenge asks for a push scope: the token endpoint is asked
        for that one). A redirect to another host that challenges gets that host's own
        credentials, or none; never this host's."""
        h = {"User-Agent": "bakeguard", **headers}
        req = Request(method, self.base + path, h, body, deadline, limit)
        answered: set[str] = set()
        r = follow(self.send, req, self.keyring.authorize)
        while r.status_code == 401 and origin(r.url) not in answered:
            answered.add(origin(r.url))
            if not self.keyring.answer(r.url, r.header("WWW-Authenticate"), deadline):
                break
            r = follow(self.send, req, self.keyring.authorize)
        return r
