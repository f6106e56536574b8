"""`--guard-verbose`: every registry request on a debug line of its own (method, URL, the
answer's status and size, how long it took), so that a verification that failed or waited
says what each registry answered. Never a header: they carry the credentials."""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

from bakeguard import log
from bakeguard.registry.transport import Request, Response, Send, TransportError


def _shown(url: str) -> str:
    """The URL without a user or password (a realm may name one)."""
    u = urlsplit(url)
    host = u.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{u.port}" if u.port else "")
    return urlunsplit((u.scheme, netloc, u.path, u.query, ""))


def traced(send: Send) -> Send:
    """`send`, each request and its outcome said at debug level (with --guard-verbose; else
    `send` itself)."""
    if not log.verbose():
        return send

    def one(request: Request) -> Response:
        start = time.monotonic()
        what = f"registry: {request.method} {_shown(request.url)}"
        try:
            r = send(request)
        except TransportError as e:
            ms = (time.monotonic() - start) * 1000
            log.get().debug(f"{what} -> no answer ({e.kind}: {e}; {ms:.0f} ms)")
            raise
        ms = (time.monotonic() - start) * 1000
        log.get().debug(f"{what} -> {r.status_code} ({len(r.content)} bytes, {ms:.0f} ms)")
        return r

    return one
