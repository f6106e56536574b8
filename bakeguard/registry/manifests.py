"""What a registry's manifests say, as bakeguard reads them (bakeguard.registry.wire): frozen
types for the OCI image spec's descriptor, platform, image manifest and index (a Docker
manifest list is read as an index, a Docker image manifest as an image manifest), and the
media types and digest grammar they use."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from bakeguard.platforms import normalize

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
KNOWN_TYPES = (*INDEX_TYPES, *MANIFEST_TYPES)
IMAGE_CONFIG_TYPES = (
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
)
OCI_EMPTY = "application/vnd.oci.empty.v1+json"  # an artifact's config (image-spec 1.1)

# the image spec's grammars (descriptor.md: digests; media types as RFC 6838 restricts them)
DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
HASHES = {"sha256": re.compile(r"[a-f0-9]{64}"), "sha512": re.compile(r"[a-f0-9]{128}")}
_RESTRICTED = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
MEDIA_TYPE = re.compile(f"{_RESTRICTED}/{_RESTRICTED}")
MAX_DIGEST = 255  # (the grammar has no bound; a digest is printed and sent in a path)


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    @property
    def normalized(self) -> str:
        return normalize("/".join(x for x in (self.os, self.architecture, self.variant) if x))


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    artifact_type: str | None = None
    annotations: tuple[tuple[str, str], ...] = ()

    def annotation(self, key: str) -> str | None:
        return next((v for k, v in self.annotations if k == key), None)


@dataclass(frozen=True)
class ImageManifest:
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    artifact_type: str | None = None
    subject: Descriptor | None = None  # the manifest it refers to (image-spec 1.1 referrers)

    @property
    def artifact(self) -> str | None:
        """Why this manifest is an artifact rather than an image, or None (image-spec 1.1:
        artifactType set, or a config that is not an image config: the empty one, say)."""
        if self.artifact_type:
            return f"an OCI artifact (artifactType {self.artifact_type})"
        if self.config.media_type == OCI_EMPTY:
            return "an OCI artifact (its config is the empty descriptor)"
        if self.config.media_type not in IMAGE_CONFIG_TYPES:
            return f"an OCI artifact (config media type {self.config.media_type})"
        return None


@dataclass(frozen=True)
class Index:
    media_type: str
    manifests: tuple[Descriptor, ...]
    artifact_type: str | None = None


@dataclass(frozen=True)
class Manifest:
    """A manifest or index as a tag (or digest) resolved: its digest, checked against its
    body, and its document."""

    media_type: str
    digest: str
    doc: ImageManifest | Index
    size: int

    @property
    def is_index(self) -> bool:
        return isinstance(self.doc, Index)


# ------------------------------------------------------------------ digests


def valid_digest(digest: str) -> bool:
    """A digest of the spec's grammar; for sha256 and sha512, of their exact form."""
    if len(digest) > MAX_DIGEST or not DIGEST.fullmatch(digest):
        return False
    algorithm, _, encoded = digest.partition(":")
    check = HASHES.get(algorithm)
    return check is None or check.fullmatch(encoded) is not None


def digest_of(body: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}"
