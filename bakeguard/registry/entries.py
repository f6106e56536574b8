"""What the entries of a tag's index are: platform manifests, attestations, and entries that
are not a verified platform (and why). Read from the index's descriptors alone."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from bakeguard.registry.manifests import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    Descriptor,
    Index,
    valid_digest,
)


@dataclass(frozen=True)
class PlatformManifest:
    """One platform's manifest as the tag's index (or, for a single manifest, the tag
    itself) names it in the registry."""

    platform: str  # normalized
    digest: str
    media_type: str | None
    size: int | None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Attestation:
    """An attestation manifest in a tag's index, and the platform manifest it is about."""

    digest: str
    media_type: str | None
    size: int | None
    subject: str | None  # its vnd.docker.reference.digest annotation
    subject_platform: str | None  # the platform whose manifest in this index is the subject

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Unverified:
    """An entry that is not a verified platform, and why (`not_a_platform`): the tag's own
    manifest when it is an artifact, or an entry of its index."""

    digest: str
    media_type: str | None
    platform: str | None  # normalized, when the entry names one
    why: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Children:
    platforms: tuple[PlatformManifest, ...]
    attestations: tuple[Attestation, ...]
    unverified: tuple[Unverified, ...]


ATTESTATION_ARTIFACT = "application/vnd.docker.attestation.manifest.v1+json"


def is_attestation(d: Descriptor) -> bool:
    """BuildKit's attestation manifest: its reference type annotation, the unknown/unknown
    platform it is given (docs.docker.com, "Attestation storage"), or, for an index entry
    naming the artifact type of BuildKit's OCI artifact format (>= v0.32), that type."""
    if d.media_type not in MANIFEST_TYPES:
        return False
    if d.annotation("vnd.docker.reference.type") == "attestation-manifest":
        return True
    if d.artifact_type == ATTESTATION_ARTIFACT:
        return True
    return d.platform is not None and d.platform.os == "unknown"


NO_PLATFORM = "an entry without a platform"


def not_a_platform(d: Descriptor, index_digest: str) -> str | None:
    """Why an index entry is not a platform's image, or None when it is one: docker pulls a
    platform's manifest, never a nested index, an artifact or an entry that names no
    platform (it could not tell which platform that is)."""
    if d.media_type in INDEX_TYPES:
        itself = " that names the index itself" if d.digest == index_digest else ""
        return f"an index nested in the index{itself}"
    if d.media_type not in MANIFEST_TYPES:
        return f"an entry of unknown media type {d.media_type}"
    if d.artifact_type:
        return f"an OCI artifact (artifactType {d.artifact_type})"
    if d.platform is None:
        return NO_PLATFORM
    return None


def children(index: Index, digest: str) -> Children:
    """An index's platform manifests, attestations and other entries, in the index's order,
    from its descriptors alone (no request per child). `digest`: the index's own."""
    plats: list[PlatformManifest] = []
    atts: list[Descriptor] = []
    unverified: list[Unverified] = []
    for d in index.manifests:
        if is_attestation(d):
            atts.append(d)
            continue
        why = not_a_platform(d, digest)
        if why is not None or d.platform is None:
            platform = d.platform.normalized if d.platform is not None else None
            unverified.append(Unverified(d.digest, d.media_type, platform, why or NO_PLATFORM))
            continue
        plats.append(PlatformManifest(d.platform.normalized, d.digest, d.media_type, d.size))
    by_digest = {p.digest: p.platform for p in plats}
    attestations = []
    for d in atts:
        subject = d.annotation("vnd.docker.reference.digest")
        subject = subject if subject and valid_digest(subject) else None
        attestations.append(
            Attestation(
                d.digest,
                d.media_type,
                d.size,
                subject,
                by_digest.get(subject) if subject else None,
            )
        )
    return Children(tuple(plats), tuple(attestations), tuple(unverified))
