"""What each tag holds when a push was asked and did not end well: read from the registry,
never inferred from bake's exit code (on buildx < 0.22's docker driver a failed bake may have
pushed everything, and a "successful" one may have left one platform).

States, as the log and the report's `tags` entries name them:
  present    every expected platform is there (and every child manifest resolves)
  missing    the tag exists but lacks platforms (named)
  absent     no such tag in the registry
  untouched  the tag names what it named before this run: the failure changed nothing there
  unreadable the registry did not say (the error is given)
  invalid    not an image reference at all (refs.problem): bake refuses such a name, so
             nothing was pushed there and the registry is not asked
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bakeguard import refs
from bakeguard.registry.verdict import few
from bakeguard.registry.verify import Expectation, Outcome, Verifier, refused_name


def read(registry: Any, exps: Sequence[Expectation]) -> dict[str, Outcome]:
    """Each expected tag as the registry holds it now, by reference; no waiting for a tag to
    appear (a lagging registry's 404 reads as absent). A name that is no reference is not
    asked for (`refused_name`)."""
    valid = [e for e in exps if refs.problem(e.ref) is None]
    answers = iter(Verifier(registry, lag_ok=False).run(valid))
    return {e.ref: refused_name(e) or next(answers) for e in exps}


def state(now: Outcome, before: Outcome | None) -> str:
    if refs.problem(now.ref) is not None:
        return "invalid"
    if before is not None and before.digest is not None and before.digest == now.digest:
        return "untouched"
    if now.error is not None:
        return "absent" if now.status == 404 else "unreadable"
    if now.missing or not now.found:
        return "missing"
    return "present" if now.ok else "missing"


def entry(now: Outcome, before: Outcome | None) -> dict[str, Any]:
    """The report's record of one tag."""
    return {
        "target": now.target,
        "ref": now.ref,
        "state": state(now, before),
        "expected": list(now.expected),
        "found": list(now.found),
        "missing": list(now.missing),
        "digest": now.digest,
        "digest_before": before.digest if before is not None else None,
        "error": now.error,
    }


def line(now: Outcome, before: Outcome | None) -> str:
    """One line a user reads in the log."""
    st = state(now, before)
    head = f"{now.ref} (target {now.target}): {st}"
    found = few(now.found) or "nothing"  # (a 5000-entry index: the first few, and a count)
    if st == "untouched":
        return f"{head}, still {(now.digest or '')[:19]} ({found})"
    if st == "absent":
        return f"{head}: the registry has no such tag"
    if st in ("unreadable", "invalid"):
        return f"{head}: {now.error}"
    if st == "missing":
        return f"{head}: holds {found}; missing {few(now.missing) or '?'}"
    return f"{head}: holds {found}"


def summary(now: Mapping[str, Outcome], before: Mapping[str, Outcome]) -> list[str]:
    return [line(o, before.get(ref)) for ref, o in now.items()]
