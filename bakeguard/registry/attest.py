"""Attestations verified per platform: the kinds a push must carry (`Wanted`), read from the
attestation manifests of the tag's index (one GET by digest each, through `wire`'s checks,
only when some kind is wanted) and matched to the platform each attests.

BuildKit stores a platform's attestations as one manifest in the image's index (moby/buildkit
docs/attestations/attestation-storage.md): its entry has the platform unknown/unknown and the
annotations vnd.docker.reference.type=attestation-manifest and vnd.docker.reference.digest=
<the platform's manifest>; each layer is an in-toto statement whose annotation
`in-toto.io/predicate-type` names what it states. From BuildKit v0.32 (moby/buildkit#6914, the
OCI artifact format: the stack's bg-remote, BuildKit v0.34.2, pushes it) the manifest also has
artifactType application/vnd.docker.attestation.manifest.v1+json, the empty config and a
`subject` naming the platform's manifest; the index entry keeps its annotations. The subject
is read from the manifest when the entry's annotation lacks it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bakeguard.refs import Reference
from bakeguard.registry.entries import Attestation, PlatformManifest
from bakeguard.registry.errors import RegistryError
from bakeguard.registry.manifests import ImageManifest, valid_digest
from bakeguard.tasks import map_bounded
from bakeguard.text import one_line

PREDICATE_TYPE = "in-toto.io/predicate-type"
PROVENANCE, SBOM = "provenance", "sbom"
KINDS = (PROVENANCE, SBOM)
# The predicate types of each kind, as a type or a prefix of its versions: SLSA provenance
# v0.2 and v1 (BuildKit writes v0.2 by default before v0.32's default v1: both are seen on
# the stack), SPDX (BuildKit's SBOM scanner: https://spdx.dev/Document) and CycloneDX.
PREDICATES = {
    PROVENANCE: ("https://slsa.dev/provenance/",),
    SBOM: ("https://spdx.dev/Document", "https://cyclonedx.org/bom"),
}
PREDICATE_MAX = 200  # characters of a predicate type kept (it is printed and reported)


def kind_of(predicate_type: str) -> str | None:
    """The kind a predicate type states, or None for another kind of statement."""
    for kind, known in PREDICATES.items():
        for p in known:
            if predicate_type == p or (
                predicate_type.startswith(p) and (p.endswith("/") or predicate_type[len(p)] == "/")
            ):
                return kind
    return None


def predicate_types(m: ImageManifest) -> tuple[str, ...]:
    """The predicate types an attestation manifest's layers state (each once, printable)."""
    found = (d.annotation(PREDICATE_TYPE) for d in m.layers)
    return tuple(dict.fromkeys(one_line(p, PREDICATE_MAX) for p in found if p))


@dataclass(frozen=True)
class Wanted:
    """What every platform of a tag must be attested with: `kinds` (provenance, sbom);
    `dropped`: why none is wanted although the build asks for some (a compatibility profile
    that pushes without attestations says so, and it is no loss)."""

    kinds: tuple[str, ...] = ()
    dropped: str | None = None


@dataclass(frozen=True)
class Attested:
    """What the attestation manifests about one platform's manifest state."""

    platform: str
    kinds: tuple[str, ...]
    predicate_types: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "kinds": list(self.kinds),
            "predicate_types": list(self.predicate_types),
        }


@dataclass(frozen=True)
class Lacking:
    platform: str
    kind: str


@dataclass(frozen=True)
class Check:
    """A tag's attestations against what was wanted; `found` None: not read (nothing was
    wanted, or the tag itself could not be read)."""

    wanted: Wanted = field(default_factory=Wanted)
    found: tuple[Attested, ...] | None = None
    lacking: tuple[Lacking, ...] = ()
    error: str | None = None  # an attestation manifest could not be read

    @property
    def ok(self) -> bool:
        return not self.lacking and self.error is None

    def to_json(self) -> dict[str, Any]:
        return {
            "attestations_expected": list(self.wanted.kinds),
            "attestations_dropped": self.wanted.dropped,
            "attestation_kinds": None if self.found is None else [a.to_json() for a in self.found],
            "attestations_missing": [
                {"platform": x.platform, "kind": x.kind} for x in self.lacking
            ],
            "attestations_error": self.error,
        }

    def lines(self, few: Callable[[Sequence[str]], str]) -> list[str]:
        """What the verification table says of them (`few` shortens a long list)."""
        if self.error:
            return [f"  attestations unread: {self.error}"]
        if self.lacking:
            named = [f"{x.kind} of {x.platform}" for x in self.lacking]
            return [f"  attestations missing: {few(named)}"]
        if self.wanted.dropped and not self.wanted.kinds:
            return [f"  attestations: none expected, {self.wanted.dropped}"]
        if self.found is not None and self.wanted.kinds:
            n = len(self.found)
            return [f"  attestations: {', '.join(self.wanted.kinds)} on {n}/{n} platforms"]
        return []


ADVICE = (
    "the tag lacks attestations the build made: whatever wrote its index (a merge, a "
    "registry) dropped them; for a registry that cannot keep them, "
    "BAKEGUARD_COMPAT=HOST=no-attestations pushes without them"
)


@dataclass(frozen=True)
class Tag:
    """A tag as verification read it, and what its platforms must be attested with; `ref`
    None: the tag could not be read (nothing more is read of it)."""

    ref: Reference | None
    wanted: Wanted
    platforms: Sequence[PlatformManifest] = ()
    expected: Sequence[str] = ()  # the platforms named (empty: whatever the tag holds)
    attestations: Sequence[Attestation] = ()


Key = tuple[str, str, str]  # (registry, repository, digest): an attestation manifest
Read = ImageManifest | None | RegistryError


def read(registry: Any, key: Key) -> Read:
    """An attestation manifest by digest (`registry.manifest`: checked against the digest, of
    the OCI shape); None when the registry lacks it (the index names a manifest that is not
    there, which attests nothing) or it is no image manifest; the error when it could not
    be read."""
    host, repository, digest = key
    try:
        m = registry.manifest(Reference(host, repository, None, digest))
    except RegistryError as e:
        return None if e.status == 404 else e
    return m.doc if isinstance(m.doc, ImageManifest) else None


def check_all(registry: Any, tags: Sequence[Tag], workers: int) -> list[Check]:
    """Each tag's Check. Only tags that want some kind are read: every attestation manifest
    their indexes name, once (the tags of one index, or of one repository, share them), as
    many at once as verification reads tags (`workers`)."""
    todo = {
        i: [(t.ref.registry, t.ref.repository, a.digest) for a in t.attestations]
        for i, t in enumerate(tags)
        if t.ref is not None and t.wanted.kinds
    }
    unique = list(dict.fromkeys(k for ks in todo.values() for k in ks))
    got = dict(zip(unique, map_bounded(lambda k: read(registry, k), unique, workers), strict=True))
    out = []
    for i, t in enumerate(tags):
        if i not in todo:
            out.append(Check(t.wanted))
            continue
        failed = next((e for k in todo[i] if isinstance(e := got[k], RegistryError)), None)
        if failed is not None:
            out.append(Check(t.wanted, error=str(failed)))
            continue
        manifests = {k[2]: m for k in todo[i] if not isinstance(m := got[k], RegistryError)}
        out.append(check(t.wanted, t.platforms, t.expected, t.attestations, manifests))
    return out


def check(
    wanted: Wanted,
    platforms: Sequence[PlatformManifest],
    expected: Sequence[str],
    attestations: Sequence[Attestation],
    manifests: Mapping[str, ImageManifest | None],
) -> Check:
    """Each platform's attestations (`manifests`: the attestation manifests read, by digest)
    against `wanted`: every expected platform the tag holds (all it holds when no platform
    was named) must have an attestation of each kind. A platform the tag lacks is already
    missing; it is not named again here."""
    types: dict[str, list[str]] = {}
    for a in attestations:
        m = manifests.get(a.digest)
        if m is None:
            continue
        subject = a.subject
        if subject is None and m.subject is not None and valid_digest(m.subject.digest):
            subject = m.subject.digest
        if subject is not None:
            types.setdefault(subject, []).extend(predicate_types(m))
    found: list[Attested] = []
    lacking: list[Lacking] = []
    for p in platforms:
        if expected and p.platform not in expected:
            continue
        stated = tuple(dict.fromkeys(types.get(p.digest, ())))
        kinds = tuple(dict.fromkeys(k for k in map(kind_of, stated) if k))
        found.append(Attested(p.platform, kinds, stated))
        lacking += [Lacking(p.platform, k) for k in wanted.kinds if k not in kinds]
    return Check(wanted, tuple(found), tuple(dict.fromkeys(lacking)))
