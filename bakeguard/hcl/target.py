"""bake's Target (buildx bake/bake.go): its attributes decoded from evaluated HCL values as
gohcl decodes them, and merged as Target.Merge merges them: `tags`, `platforms`, `output` and
`cache-to` replace, `args`/`labels` merge key by key, `annotations`, `attest`, `cache-from`,
`secret`, `ssh`, ... append. Outputs, cache entries, attestations, secrets and ssh are kept as
attribute maps (`{"type": "image", "push": "true"}`), as `bake --print` shows them."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field

from bakeguard.hcl.values import EvalError, Value, kind, to_bool, to_str

Entry = dict[str, str]
STRS = ("description", "context", "dockerfile", "dockerfile-inline", "target", "network",
        "shm-size", "call")  # fmt: skip
BOOLS = ("pull", "no-cache")
# lists of strings: tags and platforms replace on merge, the others append
LISTS = ("inherits", "annotations", "tags", "platforms", "no-cache-filter", "ulimits",
         "entitlements", "targets")  # fmt: skip
MAPS = ("contexts", "args", "labels", "resources", "extra-hosts")
# attribute maps, by the buildflags parser that reads their CSV form
ENTRIES = {"attest": "attest", "cache-from": "cache", "cache-to": "cache", "secret": "secret",
           "ssh": "ssh", "output": "output", "policy": "policy"}  # fmt: skip
FIELDS = (*STRS, *BOOLS, *LISTS, *MAPS, *ENTRIES)
_REPLACED = ("tags", "platforms", "cache-to", "output")
_DEDUPED = ("annotations", "tags", "platforms", "no-cache-filter", "ulimits", "entitlements")
# printed with `${` escaped as `$${` (Target.MarshalJSON)
_ESCAPED = ("args", "labels", "annotations", "extra-hosts", "dockerfile-inline")


def csv_fields(text: str) -> list[str]:
    """One CSV line, as strictly as Go's encoding/csv reads it (a stray quote is an error)."""
    try:
        return next(csv.reader([text], strict=True), [])
    except csv.Error as e:
        raise EvalError(f"failed to parse {text} as CSV: {e}") from e


def parse_entry(kind_: str, text: str) -> list[Entry]:
    """One CSV entry as buildflags parses it (ExportEntry, CacheOptionsEntry, Attest, Secret,
    SSH UnmarshalText)."""
    if text == "":
        return []
    if kind_ == "ssh":
        ident, _, paths = text.partition("=")
        return [{"id": ident, **({"paths": paths} if paths else {})}]
    fields = csv_fields(text)
    if kind_ == "output" and fields == [text] and not text.startswith("type="):
        return [{"type": "tar" if text == "-" else "local", "dest": text}]  # a bare path
    if kind_ == "cache" and "=" not in text:
        return [{"type": "registry", "ref": f} for f in fields]  # bare references
    out: Entry = {}
    for f in fields:
        key, eq, value = f.partition("=")
        if not eq:
            raise EvalError(f"invalid value {f!r} in {text!r}")
        key = key.strip().lower()
        out["src" if kind_ == "secret" and key == "source" else key] = value
    if kind_ in ("output", "cache", "attest") and not out.get("type"):
        raise EvalError(f"type is required in {text!r}")
    if kind_ == "attest" and "disabled" in out:  # (a bool: kept only when true)
        if out["disabled"].lower() not in ("1", "t", "true"):
            del out["disabled"]
        else:
            out["disabled"] = "true"
    return [out]


def _entries(name: str, v: Value) -> list[Entry]:
    if not isinstance(v, list):
        raise EvalError(f"`{name}` must be a list, not a {kind(v)}")
    out: list[Entry] = []
    for item in v:
        if isinstance(item, dict):
            out.append({k: to_str(x) for k, x in item.items() if x is not None})
        elif item is not None:
            out += parse_entry(ENTRIES[name], to_str(item))
    return out


def _strings(name: str, v: Value) -> list[str]:
    if not isinstance(v, list):
        raise EvalError(f"`{name}` must be a list of strings, not a {kind(v)}")
    if any(x is None for x in v):
        raise EvalError(f"`{name}` holds a null element")
    return [to_str(x) for x in v]


def _json_entry(name: str, e: Entry) -> dict[str, object]:
    """An entry as bake prints it: an attestation's `disabled` is a JSON bool."""
    if name == "attest" and "disabled" in e:
        return {**e, "disabled": e["disabled"] == "true"}
    return dict(e)


def _dedupe(items: list[Entry], by_type: bool = False) -> list[Entry]:
    """Entries once; with by_type, a later attestation of a type replaces the earlier one in
    its place (buildflags removeAttestDupes)."""
    out: list[Entry] = []
    for e in items:
        same = [
            i for i, o in enumerate(out) if (o.get("type") == e.get("type") if by_type else o == e)
        ]
        if not same:
            out.append(e)
        elif by_type:
            out[same[0]] = e
    return out


@dataclass
class Target:
    name: str
    strs: dict[str, str] = field(default_factory=dict)
    bools: dict[str, bool] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    maps: dict[str, dict[str, str | None]] = field(default_factory=dict)  # None: unset key
    entries: dict[str, list[Entry]] = field(default_factory=dict)
    linked: bool = False  # pulled in by another target's `target:` context: outputs cacheonly
    at: str = ""  # where it is defined (its first block's file:line), for the messages

    def set(self, name: str, v: Value) -> None:
        """An evaluated attribute into its field, as gohcl decodes it; null leaves it unset."""
        if v is None:
            return
        if name in STRS:
            self.strs[name] = to_str(v)
        elif name in BOOLS:
            self.bools[name] = to_bool(v)
        elif name in LISTS:
            self.lists[name] = _strings(name, v)
        elif name in MAPS:
            if not isinstance(v, dict):
                raise EvalError(f"`{name}` must be a map of strings, not a {kind(v)}")
            self.maps[name] = {k: None if x is None else to_str(x) for k, x in v.items()}
        else:
            self.entries[name] = _entries(name, v)

    def merge(self, other: Target) -> None:
        """Target.Merge(other): other's set fields over this target's."""
        for name, s in other.strs.items():
            if name != "description" or s:
                self.strs[name] = s
        self.bools.update(other.bools)
        for name, items in other.lists.items():
            keep = [] if name in _REPLACED else self.lists.get(name, [])
            self.lists[name] = [*keep, *items]
        for name, m in other.maps.items():
            mine = self.maps.setdefault(name, {})
            mine.update({k: x for k, x in m.items() if x is not None or name == "contexts"})
        for name, es in other.entries.items():
            if name in _REPLACED:
                self.entries[name] = list(es)
            else:
                joined = [*self.entries.get(name, []), *es]
                self.entries[name] = (
                    joined if name == "policy" else _dedupe(joined, name == "attest")
                )

    def normalize(self) -> None:
        """Target.normalize: duplicates and empty strings dropped, network=host entitled."""
        for name in _DEDUPED:
            if name in self.lists:
                self.lists[name] = [x for x in dict.fromkeys(self.lists[name]) if x]
        for name in ("output", "cache-from", "cache-to", "secret", "ssh"):
            if name in self.entries:
                self.entries[name] = _dedupe(self.entries[name])
        if self.strs.get("network") == "host":
            ents = self.lists.get("entitlements", [])
            self.lists["entitlements"] = list(dict.fromkeys([*ents, "network.host"]))
        if "contexts" in self.maps:
            self.maps["contexts"] = {k: v for k, v in self.maps["contexts"].items() if v}

    def copy(self) -> Target:
        return Target(
            self.name,
            dict(self.strs),
            dict(self.bools),
            {k: list(v) for k, v in self.lists.items()},
            {k: dict(v) for k, v in self.maps.items()},
            {k: [dict(e) for e in v] for k, v in self.entries.items()},
            self.linked,
            self.at,
        )

    def as_value(self, block: str) -> dict[str, Value]:
        """This block as `target.NAME` (or `group.NAME`) sees it: every field, null if unset."""
        names = ("description", "targets") if block == "group" else FIELDS
        out: dict[str, Value] = {"name": self.name}
        for name in names:
            out[name] = None
            if name in self.strs:
                out[name] = self.strs[name]
            elif name in self.bools:
                out[name] = self.bools[name]
            elif name in self.lists:
                out[name] = list[Value](self.lists[name])
            elif name in self.maps:
                out[name] = dict[str, Value](self.maps[name])
            elif name in self.entries:
                out[name] = [dict[str, Value](e) for e in self.entries[name]]
        return out

    def printed(self) -> dict[str, object]:
        """The target as `bake --print` shows it: empty fields left out, `${`/`%{` escaped
        where Target.MarshalJSON escapes them."""

        def esc(name: str, s: str) -> str:
            return s.replace("${", "$${").replace("%{", "%%{") if name in _ESCAPED else s

        out: dict[str, object] = {}
        for name in FIELDS:
            if name == "inherits":
                continue
            if self.strs.get(name):
                out[name] = esc(name, self.strs[name])
            elif name in self.bools:
                out[name] = self.bools[name]
            elif self.lists.get(name):
                out[name] = [esc(name, x) for x in self.lists[name]]
            elif self.maps.get(name):
                out[name] = {k: esc(name, x) for k, x in self.maps[name].items() if x is not None}
            elif self.entries.get(name):
                out[name] = [_json_entry(name, e) for e in self.entries[name]]
        return out
