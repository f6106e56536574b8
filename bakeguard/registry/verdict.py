"""What verification says: the table of outcomes a user reads (long lists cut to their first
few names), the warning for a tag another push made whole, and the advice for failed ones.
The outcomes come from bakeguard.registry.verify; this module only words them."""

from __future__ import annotations

from collections.abc import Sequence

from bakeguard.refs import Reference
from bakeguard.registry.attest import ADVICE as ATTEST_ADVICE
from bakeguard.registry.entries import Unverified
from bakeguard.registry.verify import Outcome


def reach_hint(outcomes: Sequence[Outcome]) -> str | None:
    """What to check when some registry gave no answer at all: the push may have reached it
    from the engine, yet this machine (bakeguard reads the registry itself) could not."""
    hosts = sorted({Reference.parse(o.ref).registry for o in outcomes if o.unreachable})
    if not hosts:
        return None
    names = ", ".join(hosts)
    return (
        f"could not reach {names} from this machine (verification reads the registry from "
        "here, not from the engine). Check the name; behind a proxy, set HTTPS_PROXY / "
        "HTTP_PROXY / NO_PROXY (read as docker reads them); for a private CA, "
        f"/etc/docker/certs.d/{hosts[0]}/ca.crt"
    )


FEW = 4  # names a log line shows of a long list (the report keeps them all)


def few(items: Sequence[str], n: int = FEW) -> str:
    """The first n items and how many more: a 5000-entry index is one short line."""
    if len(items) <= n + 1:
        return ", ".join(items)
    return f"{', '.join(items[:n])} and {len(items) - n} more"


def unverified_line(entries: Sequence[Unverified]) -> str:
    shown = [f"{u.digest[:19]}{f' ({u.platform})' if u.platform else ''}: {u.why}" for u in entries]
    return f"  not verified as a platform: {few(shown, 2)}"


def table(outcomes: Sequence[Outcome]) -> list[str]:
    """The human summary, one line per tag (plus a line per problem); long lists are cut
    to their first few names (`few`)."""
    lines = []
    for o in outcomes:
        want = len(o.expected) or 1
        head = f"verify {o.ref} (target {o.target}):"
        if o.ok:
            have = len(o.found) - len(o.extra)
            if o.another_push:  # (both digests whole: they name whose image the tag holds)
                lines.append(
                    f"{head} whole, {have}/{want} platforms ({few(o.found)}), but another "
                    f"push's {o.another_push}, not this run's {o.expected_digest}"
                )
            else:
                d = (o.digest or "")[:19]
                lines.append(f"{head} OK, {have}/{want} platforms ({few(o.found)}) {d}")
            if o.unverified:
                lines.append(unverified_line(o.unverified))
            lines += o.attest.lines(few)
            continue
        lines.append(f"{head} FAILED")
        if o.error:
            lines.append(f"  error: {o.error}")
        if o.fix:
            lines.append(f"  fix: {o.fix}")
        if o.missing:
            lines.append(f"  missing: {few(o.missing)}")
        if o.found or not o.error:
            lines.append(f"  found: {few(o.found) or 'nothing'}")
        if o.unverified:
            lines.append(unverified_line(o.unverified))
        if o.extra:
            lines.append(f"  extra: {few(o.extra)}")
        if o.missing_children:
            lines.append(f"  child manifests missing: {few(o.missing_children)}")
        lines += o.attest.lines(few)
        if o.another_push:
            lines.append(
                f"  the tag holds another push's {o.another_push}, not this run's "
                f"{o.expected_digest}"
            )
    return lines


def another_push_warning(o: Outcome) -> str:
    """The warning for a whole tag that another push wrote after this one."""
    return (
        f"{o.ref} holds another push's image {o.another_push}, not the {o.expected_digest} "
        "this run pushed: a concurrent run or job pushed the same tag after this one. The tag "
        "is whole, so this run passes; make one job own each tag to know whose image it holds"
    )


RECHECK = "`bakeguard --guard-verify-only ARGS` re-checks without building"


def advice(
    outcomes: Sequence[Outcome], otherwise: str | None = None, suggest_split: bool = True
) -> str:
    """What to do about failed outcomes, from what failed: the failed tags' own fix
    (`docker login HOST` ...); a tag lacking platforms that holds another push's manifests
    was written by that push after this one (a concurrent run), which no bakeguard option
    changes; platforms missing from a plain push are what the split's one index write
    avoids (`suggest_split`)."""
    failed = [o for o in outcomes if not o.ok]
    fixes = [o.fix for o in failed if o.fix]
    if fixes:
        return "; ".join(dict.fromkeys(fixes))
    if failed and all(o.another_push for o in failed):
        return (
            "another push wrote the tag after this one (a concurrent run or job pushing the "
            f"same tag?), and it is not whole; make one job own each tag. {RECHECK}"
        )
    if failed and all(o.attest.lacking and o.error is None and not o.missing for o in failed):
        return f"{ATTEST_ADVICE}; {RECHECK}"
    if suggest_split and any(o.found and o.missing for o in failed):
        return f"re-run with --guard-split=always, or check the registry; {RECHECK}"
    return otherwise or f"check the registry; {RECHECK}"
