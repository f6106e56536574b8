"""The resolved bake definition, as `docker buildx bake --print` prints it with the user's own
arguments: which targets push, to which names, for which platforms, with which outputs.

Outputs come as objects (`{"type": "image", "push": "true"}`, buildx >= 0.14) or as CSV
strings (`"type=image,push=true"`, older buildx); both read the same here.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bakeguard.platforms import normalize

TRUE = ("1", "true", "yes", "on")


def parse_csv_attrs(text: str) -> dict[str, str]:
    """`type=image,"name=a,b",push=true` -> attrs (quoted fields keep their commas)."""
    row = next(csv.reader([text]), [])
    out: dict[str, str] = {}
    for field_ in row:
        k, eq, v = field_.partition("=")
        if eq:
            out[k.strip().lower()] = v.strip()
        elif field_.strip():
            out.setdefault("type", field_.strip())  # a bare `-` or type
    return out


@dataclass(frozen=True)
class Output:
    attrs: Mapping[str, str]

    @classmethod
    def parse(cls, value: object) -> Output:
        if isinstance(value, Mapping):
            return cls({str(k).lower(): str(v) for k, v in value.items()})
        return cls(parse_csv_attrs(str(value)))

    @property
    def type(self) -> str:
        return self.attrs.get("type", "")

    @property
    def pushes(self) -> bool:
        if self.type == "registry":
            return self.attrs.get("push", "true").lower() in TRUE
        return self.type in ("image", "") and self.attrs.get("push", "").lower() in TRUE

    @property
    def by_digest(self) -> bool:
        return self.attrs.get("push-by-digest", "").lower() in TRUE

    @property
    def names(self) -> list[str]:
        raw = self.attrs.get("name", "")
        return [n.strip() for n in raw.split(",") if n.strip()]


@dataclass(frozen=True)
class Target:
    name: str
    raw: Mapping[str, Any]
    tags: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    outputs: tuple[Output, ...] = ()

    @property
    def pushes(self) -> bool:
        return any(o.pushes for o in self.outputs)

    @property
    def push_refs(self) -> list[str]:
        """The names a push writes: the target's tags, else each pushing output's `name=`.
        buildx fills an image output's name from the tags whenever there are tags, replacing
        a `name=` the output had (build/opt.go), so a `--set T.output=...,name=OTHER` beside
        tags still pushes the tags."""
        refs: list[str] = []
        for o in self.outputs:
            if o.pushes:
                for ref in list(self.tags) or o.names:
                    if ref not in refs:
                        refs.append(ref)
        return refs

    @property
    def tag_refs(self) -> list[str]:
        """Pushed references that name a tag (push-by-digest writes none)."""
        if any(o.pushes and o.by_digest for o in self.outputs):
            return []
        return self.push_refs

    def declaring(self, platforms: tuple[str, ...]) -> Target:
        """This target building `platforms`, which the user declared but the printed
        definition lost (see compose.py); the raw attributes carry them to a generated bake."""
        return Target(
            self.name,
            {**self.raw, "platforms": list(platforms)},
            self.tags,
            platforms,
            self.outputs,
        )

    @property
    def normalized_platforms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(normalize(p) for p in self.platforms))

    @property
    def attestations(self) -> bool | None:
        """True/False when the definition says; None when BuildKit's default decides."""
        attest = self.raw.get("attest")
        if not attest:
            return None
        for a in attest:
            attrs = a if isinstance(a, Mapping) else parse_csv_attrs(str(a))
            if str(attrs.get("disabled", "false")).lower() not in TRUE:
                return True
        return False


def split_platforms(values: object) -> tuple[str, ...]:
    """Platforms as bake builds them: each entry may be a comma list (`--set
    '*.platform=linux/amd64,linux/arm64'` prints as one entry; buildx's platformutil.Parse
    splits it), duplicates once."""
    items = values if isinstance(values, (list, tuple)) else [values] if values else []
    out = [p.strip() for v in items for p in str(v).split(",") if p.strip()]
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class Definition:
    targets: Mapping[str, Target]
    groups: Mapping[str, list[str]] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)
    # targets whose platforms came from the user's files because the printed definition
    # lost them (`declaring`): bake as printed would not build them
    corrected: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def pushing(self) -> list[Target]:
        return [t for t in self.targets.values() if t.pushes]

    def declaring(self, declared: Mapping[str, tuple[str, ...]]) -> Definition:
        """The definition with the platforms the user's files declare for targets the print
        shows without any (buildx < 0.23 drops compose's `build.platforms`)."""
        fixed = {
            n: declared[n]
            for n, t in self.targets.items()
            if not t.platforms and len(declared.get(n, ())) > 0
        }
        if not fixed:
            return self
        targets = {n: t.declaring(fixed[n]) if n in fixed else t for n, t in self.targets.items()}
        return Definition(targets, self.groups, self.raw, {**self.corrected, **fixed})

    @classmethod
    def parse(cls, text: str) -> Definition:
        doc = json.loads(text)
        targets = {}
        for name, t in (doc.get("target") or {}).items():
            targets[name] = Target(
                name=name,
                raw=t,
                tags=tuple(t.get("tags") or ()),
                platforms=split_platforms(t.get("platforms")),
                outputs=tuple(Output.parse(o) for o in t.get("output") or ()),
            )
        groups = {g: list(v.get("targets") or []) for g, v in (doc.get("group") or {}).items()}
        return cls(targets, groups, doc)
