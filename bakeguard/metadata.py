"""bake's metadata file (`--metadata-file`): the digest a target's build pushed, this run's own.

buildx before 0.22 on the docker driver replaces `containerimage.digest` after the engine's
second push with what the registry's first tag names at that moment
(github.com/docker/buildx v0.21.1 build/build.go: `remoteDigestWithMoby`, a
`DistributionInspect` of `pushList[0]`): read back by tag, so another run pushing the same tag
at once can have put its own image there. `containerimage.descriptor` is BuildKit's own
exporter response, left as it was: the image BuildKit built and pushed. A multi-node merge
writes `containerimage.digest` only (its merged index), and every other builder writes both
the same. So the descriptor's digest comes first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# What a pushed image's descriptor is (an exporter may describe something else, such as the
# classic image store's config: not a digest to read from a registry as a manifest).
PUSHED_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)


def _digest(value: object) -> str | None:
    return value if isinstance(value, str) and DIGEST.fullmatch(value) else None


def pushed_digest(entry: object) -> str | None:
    """The digest a target's metadata entry says its build pushed, or None when it names
    none (or not as a sha256 digest: the file is read back, and a digest ends up in a
    reference)."""
    if not isinstance(entry, Mapping):
        return None
    desc = entry.get("containerimage.descriptor")
    own = None
    if isinstance(desc, Mapping) and desc.get("mediaType") in PUSHED_TYPES:
        own = _digest(desc.get("digest"))
    return own or _digest(entry.get("containerimage.digest"))
