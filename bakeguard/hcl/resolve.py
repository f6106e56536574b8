"""From the files' targets and groups to what bake builds (buildx bake/bake.go ReadTargets):
the named targets and groups (globs allowed), each target with its `inherits` merged in,
its `--set` overrides applied (a parent's too, under the parent's name), `context` "." and
`dockerfile` "Dockerfile" by default; then every target a `target:NAME` context pulls in,
with its outputs replaced by `cacheonly` (it is built for the other, never exported)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable

from bakeguard.hcl.bake import Config
from bakeguard.hcl.overrides import Override, apply, go_match
from bakeguard.hcl.overrides import parse as parse_sets
from bakeguard.hcl.target import Target
from bakeguard.hcl.values import HclError, Refusal

_PUSH_LOAD = ("push", "load")
# a remote context (buildx urlutil.IsRemoteURL): git and http(s) addresses
REMOTE = re.compile(r"^(https?://|git://|git@|github\.com/|ssh://)")


def match_names(c: Config, pattern: str) -> list[str]:
    if not any(ch in pattern for ch in "*?[]"):
        return [pattern]
    names = [g for g in c.groups if go_match(pattern, g)]
    names += [t for t in c.targets if go_match(pattern, t)]
    if not names:
        raise HclError(f"could not find any target matching {pattern!r}", "targets")
    return names


def group(c: Config, name: str, seen: set[str]) -> tuple[list[str], list[str]]:
    """ResolveGroup: the targets a name stands for, and the groups it went through."""
    if name not in c.groups:
        return [name], []
    if name in seen:
        return [], []
    seen.add(name)
    targets: list[str] = []
    groups = [name]
    for member in c.groups[name]:
        t, g = group(c, member, seen)
        targets += t
        groups += g
    return list(dict.fromkeys(targets)), list(dict.fromkeys(groups))


def apply_overrides(t: Target, overrides: dict[str, Override]) -> None:
    """AddOverrides; bake applies them in Go's random map order, which only matters for an
    `output` override beside --push/--load: when the two orders differ, refuse."""
    first = {k: o for k, o in overrides.items() if k not in _PUSH_LOAD}
    last = {k: o for k, o in overrides.items() if k in _PUSH_LOAD}
    if "output" in first and last:
        other = t.copy()
        apply(other, last)
        apply(other, first)
        apply(t, first)
        apply(t, last)
        if other.entries.get("output") != t.entries.get("output"):
            raise Refusal(
                f"target {t.name}: --set {t.name}.output with --push/--load gives a result that "
                "depends on the order bake happens to apply them in",
                "--set",
            )
        return
    apply(t, first)
    apply(t, last)


def target(c: Config, name: str, o: dict[str, dict[str, Override]],
           visited: dict[str, Target | None], at: str) -> Target | None:  # fmt: skip
    """The target with its parents merged in; `at` names who asked for it."""
    if name in visited:
        return visited[name]  # (None: an `inherits` cycle, which bake skips)
    visited[name] = None
    own = c.targets.get(name)
    if own is None:
        raise HclError(f"failed to find target {name}", at)
    parents = Target(name)
    for parent in own.lists.get("inherits", []):
        p = target(c, parent, o, visited, f"{own.at} (inherits)")
        if p is not None:
            parents.merge(p)
    t = Target(name, at=own.at)
    t.merge(parents)
    t.merge(own)
    apply_overrides(t, o.get(name, {}))
    t.normalize()
    visited[name] = t
    return t


def resolve_target(c: Config, name: str, o: dict[str, dict[str, Override]], at: str) -> Target:
    t = target(c, name, o, {}, at)
    assert t is not None
    t = t.copy()
    t.lists.pop("inherits", None)
    t.strs.setdefault("context", ".")
    if not t.strs.get("dockerfile"):
        t.strs["dockerfile"] = "Dockerfile"
    return t


def links(c: Config, name: str, t: Target, m: dict[str, Target],
          o: dict[str, dict[str, Override]], visited: list[str]) -> None:  # fmt: skip
    visited = [*visited, name]
    for value in t.maps.get("contexts", {}).values():
        if value is None or not value.startswith("target:"):
            continue
        other = value.removeprefix("target:")
        where = f"{t.at} (contexts)"
        if other == name:
            raise HclError(f"target {other} cannot link to itself", where)
        if other in visited:
            raise HclError(f"infinite loop from {name} to {other}", where)
        t2 = m.get(other)
        if t2 is None:
            t2 = resolve_target(c, other, o, where)
            t2.entries["output"] = [{"type": "cacheonly"}]
            t2.linked = True
            m[other] = t2
        links(c, other, t2, m, o, visited)
        mine, theirs = t.lists.get("platforms", []), t2.lists.get("platforms", [])
        if len(mine) > 1 and len(theirs) > 1 and not set(mine) <= set(theirs):
            raise HclError(
                f"target {other} can't be used by {name} because its platforms {mine} "
                f"are not a subset of {theirs}",
                where,
            )


def clean_context(t: Target, epoch: str) -> None:
    """What bake does to a target before printing it (bake.go toBuildOpt, commands/bake.go):
    a local context path cleaned (`./app/` is `app`), SOURCE_DATE_EPOCH from the environment
    as an arg where the target has none."""
    ctx = t.strs.get("context", ".")
    if not ctx.startswith("cwd://") and not REMOTE.match(ctx):
        cleaned = posixpath.normpath(ctx)
        t.strs["context"] = "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned
    if epoch and "SOURCE_DATE_EPOCH" not in t.maps.get("args", {}):
        t.maps.setdefault("args", {})["SOURCE_DATE_EPOCH"] = epoch


def read_targets(
    c: Config, wanted: list[str], sets: list[str], epoch: str = "",
    check: Callable[[Target], None] | None = None,
) -> dict[str, object]:  # fmt: skip
    """The definition as `bake --print` prints it; `check` raises bake's own error for a
    target whose build options bake refuses."""
    names: list[str] = []
    for w in wanted:
        names += match_names(c, w.replace(".", "_"))
    names = list(dict.fromkeys(names))
    o = parse_sets(sets, list(c.targets))
    targets: dict[str, Target] = {}
    groups: dict[str, list[str]] = {}
    for n in names:
        members, through = group(c, n, set())
        for m in members:
            targets[m] = resolve_target(c, m, o, "targets")
        for g in through:
            groups[g] = list(c.groups[g])
    for n in names:
        if not (n == "default" and "default" in groups):
            groups.setdefault("default", []).append(n)
    groups["default"] = sorted(dict.fromkeys(groups["default"]))
    for name, t in list(targets.items()):
        links(c, name, t, targets, o, [])
    for t in targets.values():
        clean_context(t, epoch)
        if check is not None:
            check(t)
    return {
        "group": {g: {"targets": ts} for g, ts in groups.items()},
        "target": {n: t.printed() for n, t in targets.items()},
    }
