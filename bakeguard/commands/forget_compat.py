"""`--guard-forget-compat HOST,...|all`: forget registry profiles that earlier runs' retries
proved (bakeguard.learned); the next push to such a host starts with BuildKit's defaults
again. Hosts are matched as docker names a registry (bakeguard.compatspec): `LOCALHOST:5802`
and `localhost:5802/` are localhost:5802."""

from __future__ import annotations

from collections.abc import Mapping

from bakeguard import learned
from bakeguard.compatspec import host_key, is_host
from bakeguard.errors import UsageError
from bakeguard.options import GuardOptions
from bakeguard.text import emit


def forget_compat(opts: GuardOptions, environ: Mapping[str, str]) -> int:
    wanted = [h.strip() for h in (opts.forget_compat or "").split(",") if h.strip()]
    fix = (
        "give --guard-forget-compat=HOST[:PORT],... or --guard-forget-compat=all "
        "(`bakeguard --guard-doctor` lists what is remembered)"
    )
    if not wanted:
        raise UsageError(f"--guard-forget-compat {opts.forget_compat!r} names no registry", fix)
    for h in wanted:
        if h.lower() != "all" and not is_host(host_key(h)):
            raise UsageError(f"--guard-forget-compat: {h!r} is not a registry host", fix)
    gone = learned.forget(environ, wanted)
    for e in gone:
        emit(f"forgot {e.host}: the {e.profile} profile (remembered since {e.since})")
    left = learned.load(environ)
    if not gone:
        known = ", ".join(sorted(left)) or "none"
        emit(f"nothing remembered for {', '.join(wanted)} (remembered hosts: {known})")
    elif left:
        emit(f"still remembered: {', '.join(sorted(left))}")
    return 0
