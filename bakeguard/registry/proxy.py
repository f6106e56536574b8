"""Where a request to a registry goes, as docker's and buildx's Go HTTP clients decide it:
loopback directly, NO_PROXY's exemptions, else HTTPS_PROXY / HTTP_PROXY."""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping
from urllib.parse import SplitResult, unquote, urlsplit


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


def proxy_auth(proxy: SplitResult) -> dict[str, str]:
    if proxy.username is None:
        return {}
    raw = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()
    return {"Proxy-Authorization": "Basic " + base64.b64encode(raw).decode()}
