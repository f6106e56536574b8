"""One registry host as a run speaks to it (its base URL, credentials, and where plain HTTP
is allowed: loopback and the engine's insecure registries)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bakeguard.registry.auth import TokenAuth
from bakeguard.registry.proxy import is_loopback
from bakeguard.registry.transport import (
    Request,
    Response,
    Send,
    follow,
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


@dataclass
class Host:
    """One registry host as this run speaks to it: its base URL and its credentials."""

    base: str  # scheme://host
    auth: TokenAuth
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
    ) -> Response:
        """One request (redirects followed); a 401 challenge is answered once (a write's
        challenge asks for a push scope: the token endpoint is asked for that one)."""
        h = {"User-Agent": "bakeguard", **headers}
        with self.auth.lock:
            if self.auth.last:
                h["Authorization"] = self.auth.last
        r = follow(self.send, Request(method, self.base + path, h, body, deadline))
        if r.status_code == 401:
            answer = self.auth.answer(r.header("WWW-Authenticate"), deadline)
            if answer is not None:
                h["Authorization"] = answer
                r = follow(self.send, Request(method, self.base + path, h, body, deadline))
        return r
