"""`--set PATTERN.KEY[+]=VALUE`, `--push` and `--load` as bake applies them (buildx
bake/bake.go newOverrides, AddOverrides, setPushOverride, setLoadOverride): `--push` is
`*.push=true`, which marks image outputs push=true and adds one only where every output is
`docker` (or there is none): a target that writes `local`, `tar`, `oci` or `cacheonly` keeps
its outputs and pushes nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bakeguard.hcl.target import Entry, Target, parse_entry
from bakeguard.hcl.values import HclError, Refusal

_ALIASES = {"annotations": "annotation", "args": "arg", "entitlements": "entitlement",
            "extra-hosts": "extra-host", "labels": "label", "platforms": "platform",
            "resources": "resource", "tags": "tag", "ulimits": "ulimit",
            "secrets": "secret"}  # fmt: skip
# keys whose values form a list: repeated --set add up; `KEY=` clears; `KEY+=` appends
_LISTS = ("output", "cache-to", "cache-from", "tag", "platform", "ssh", "attest", "entitlement",
          "annotation", "policy", "ulimit", "no-cache-filter", "secret")  # fmt: skip
_KEYED = {"arg": "args", "contexts": "contexts", "label": "labels", "extra-host": "extra-hosts"}
_STRINGS = {"tag": "tags", "platform": "platforms", "ulimit": "ulimits",
            "no-cache-filter": "no-cache-filter", "entitlement": "entitlements",
            "annotation": "annotations"}  # fmt: skip
_SCALARS = ("context", "dockerfile", "target", "call", "shm-size", "network")
_ENTRIES = ("output", "cache-from", "cache-to", "attest", "secret", "ssh")
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


@dataclass
class Override:
    value: str = ""
    values: list[str] = field(default_factory=list)
    append: bool = False
    clear: bool = False


def go_match(pattern: str, name: str) -> bool:
    """Go's path.Match for a target name (which holds no '/')."""
    rx, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if c in "*?":
            rx += "[^/]*" if c == "*" else "[^/]"
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j < 0:
                return False
            body = pattern[i + 1 : j]
            rx += "[" + ("^" + body[1:] if body.startswith("^") else body) + "]"
            i = j
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            rx += re.escape(pattern[i])
        else:
            rx += re.escape(c)
        i += 1
    return re.fullmatch(rx, name) is not None


def parse(values: list[str], names: list[str]) -> dict[str, dict[str, Override]]:
    """target name -> key -> override, for the --set values in order (newOverrides)."""
    out: dict[str, dict[str, Override]] = {}
    for raw in values:
        key, eq, value = raw.partition("=")
        append = key.endswith("+")
        keys = key.removesuffix("+").split(".", 2)
        if len(keys) < 2:
            raise HclError(f"invalid override key {key}, expected target.name", "--set")
        keys[1] = _ALIASES.get(keys[1], keys[1])
        if not eq and keys[1] != "arg":
            raise HclError(f"invalid override {raw}, expected target.name=value", "--set")
        matched = [keys[0]] if keys[0] in names else [n for n in names if go_match(keys[0], n)]
        if not matched:
            raise HclError(f"could not find any target matching '{keys[0]}'", "--set")
        for name in matched:
            o = out.setdefault(name, {}).setdefault(".".join(keys[1:]), Override())
            if keys[1] in _LISTS and len(keys) == 2:
                if eq and not append and value == "":
                    o.clear, o.values = True, []
                elif eq:
                    o.values.append(value)
                o.append = append and not o.clear
            elif eq:
                o.value = value
    return out


def _bool(key: str, value: str) -> bool:
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise HclError(f"invalid value {value} for boolean key {key}", "--set")


def apply(t: Target, overrides: dict[str, Override]) -> None:
    """Target.AddOverrides, in the order given."""
    for key, o in overrides.items():
        head, _, sub = key.partition(".")
        if head in _KEYED and sub:
            t.maps.setdefault(_KEYED[head], {})[sub] = o.value
        elif head in _SCALARS:
            t.strs[head] = o.value
        elif head in _STRINGS:
            name = _STRINGS[head]
            # annotations and entitlements always add up; the others unless `+=`
            adds = o.append or (head in ("annotation", "entitlement") and not o.clear)
            t.lists[name] = [*(t.lists.get(name, []) if adds else []), *o.values]
        elif head in _ENTRIES and not sub:
            _entries(t, head, o)
        elif head in ("no-cache", "pull"):
            t.bools[head] = _bool(head, o.value)
        elif head == "push":
            t.entries["output"] = push_outputs(t.entries.get("output", []), _bool(head, o.value))
        elif head == "load":
            t.entries["output"] = load_outputs(t.entries.get("output", []), _bool(head, o.value))
        else:
            raise Refusal(f"--set of {key!r} is not read offline", "--set")


def _entries(t: Target, head: str, o: Override) -> None:
    kind = "cache" if head.startswith("cache") else head
    new = [e for v in o.values for e in parse_entry(kind, v)]
    old = t.entries.get(head, [])
    if head == "attest":  # Attests.Merge: an attestation of a type replaces that type's
        merged = [] if o.clear else list(old)
        for e in new:
            same = [i for i, x in enumerate(merged) if x.get("type") == e.get("type")]
            if same:
                merged[same[0]] = e
            else:
                merged.append(e)
        t.entries[head] = merged
    elif o.append:
        t.entries[head] = [*old, *[e for e in new if e not in old]]
    else:
        t.entries[head] = new


def push_outputs(outputs: list[Entry], push: bool) -> list[Entry]:
    """setPushOverride."""
    if not push:
        kept = [dict(o) for o in outputs if o.get("type") != "registry"]
        for o in kept:
            if o.get("type") == "image":
                o["push"] = "false"
        return kept
    out = [dict(o) for o in outputs]
    for o in out:
        if o.get("type") == "image":
            o["push"] = "true"
    if all(o.get("type") == "docker" for o in out):
        out.append({"type": "image", "push": "true"})
    return out


def load_outputs(outputs: list[Entry], load: bool) -> list[Entry]:
    """setLoadOverride."""
    if not load:
        return outputs
    for o in outputs:
        kind = o.get("type")
        if (kind == "docker" and not o.get("dest")) or kind not in ("docker", "image",
                                                                   "registry", "oci"):  # fmt: skip
            return outputs
    return [*outputs, {"type": "docker"}]
