"""`--guard-forget-compat HOST,...|all`: forget registry profiles that earlier runs' retries
proved (bakeguard.learned); the next push to such a host starts with BuildKit's defaults
again."""

from __future__ import annotations

from collections.abc import Mapping

from bakeguard import learned
from bakeguard.errors import UsageError
from bakeguard.options import GuardOptions


def forget_compat(opts: GuardOptions, environ: Mapping[str, str]) -> int:
    wanted = [h.strip() for h in (opts.forget_compat or "").split(",") if h.strip()]
    if not wanted:
        raise UsageError(
            f"--guard-forget-compat {opts.forget_compat!r} names no registry",
            "give --guard-forget-compat=HOST[:PORT],... or --guard-forget-compat=all "
            "(`bakeguard --guard-doctor` lists what is remembered)",
        )
    gone = learned.forget(environ, wanted)
    for e in gone:
        print(f"forgot {e.host}: the {e.profile} profile (remembered since {e.since})")
    left = learned.load(environ)
    if not gone:
        known = ", ".join(sorted(left)) or "none"
        print(f"nothing remembered for {', '.join(wanted)} (remembered hosts: {known})")
    elif left:
        print(f"still remembered: {', '.join(sorted(left))}")
    return 0
