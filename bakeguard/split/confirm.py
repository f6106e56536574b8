"""Each platform of a split confirmed in the registry on its own, by digest: what bake's
metadata names when bake succeeded; after a failed bake on the docker driver (maybe only its
second push through the engine), which writes no metadata, the digest this bake's own output
says BuildKit pushed to the per-platform tag, else the engine's local per-platform image
(its tag was removed before the retry's bake: `forget_local`), which another build on the
same engine may have named since (said: `from_engine`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bakeguard.docker import Docker
from bakeguard.metadata import DIGEST, pushed_digest
from bakeguard.refs import Reference
from bakeguard.split.plan import Variant
from bakeguard.tasks import map_bounded
from bakeguard.text import one_line

if TYPE_CHECKING:  # (the registry client loads only after the bake)
    from bakeguard.registry import Registry


# BuildKit's progress line for a push by tag, in bake's stderr (plain progress, and a wide
# enough terminal): `#6 pushing manifest for REGISTRY/REPO:TAG@sha256:... 0.0s done`.
PUSHED_MANIFEST = re.compile(r"pushing manifest for ([^\s@]+)@(sha256:[0-9a-f]{64})")


def pushed_in(output: str) -> dict[Reference, str]:
    """Each tag this bake's output says BuildKit pushed, with the digest (the last said)."""
    out: dict[Reference, str] = {}
    for name, digest in PUSHED_MANIFEST.findall(output):
        try:
            out[Reference.parse(name)] = digest
        except ValueError:
            continue
    return out


# bake's own error lines in its stderr: a step's `#12 ERROR: ...` (plain progress), and
# buildx's last `ERROR: target NAME: failed to solve: ...`.
BAKE_ERROR = re.compile(r"^(?:#\d+ )?ERROR:? (.+)$", re.M)


def bake_said(output: str) -> str:
    """Why a bake failed, as its output says: the docker driver's BuildKit losing builds it
    was given ("no such job", docker/buildx#3810), else bake's last error line as it is.
    Never a guess at a cause the output does not show."""
    if "no such job" in output:
        return 'the builder lost builds it was given ("no such job": too many at once)'
    errors = BAKE_ERROR.findall(output)
    if errors:
        return f"bake said: {one_line(errors[-1].strip(), 400)}"
    return "its output names no error"


def forget_local(docker: Docker, variants: Sequence[Variant]) -> None:
    """Drop the engine's local per-platform tags so that only this run can name them."""
    tags = [t for v in variants for t in v.tags]
    if tags:
        docker.capture(["image", "rm", *tags], timeout=60)


def check(
    docker: Docker,
    registry: Registry,
    variants: Sequence[Variant],
    by_digest: bool,
    code: int,
    metadata: Mapping[str, Any] | None,
    local_fresh: bool = False,
    output: str = "",
) -> tuple[dict[str, str], list[tuple[Variant, str]], list[Variant]]:
    """(variant name -> digest for those in the registry, [(variant, why)] for the others,
    the variants whose digest is the engine's local image's). After a failed bake on the
    docker driver, what bake's `output` says it pushed counts, and the engine's local images
    only when `local_fresh` (their tags were removed before that bake)."""
    from bakeguard.registry import RegistryError

    registry.start()  # a budget of its own: not what an earlier assembly spent
    said = pushed_in(output) if code != 0 and not by_digest else {}

    def one(v: Variant) -> tuple[Variant, str | None, str]:
        if code == 0 and metadata and v.name in metadata:
            # bake succeeded: its metadata names what it pushed (BuildKit's own digest)
            digest = pushed_digest(metadata[v.name]) or ""
            if not digest:
                return v, None, "bake's metadata names no digest for it"
        elif v.tags and Reference.parse(v.tags[0]) in said:
            digest = said[Reference.parse(v.tags[0])]  # this run's BuildKit pushed it
        elif by_digest or code == 0 or not local_fresh:
            return v, None, f"bake exited {code}"
        else:
            # docker driver, bake failed (maybe only in the engine's second push): the
            # engine's local image, named by this run (the tag was removed before it)
            res = docker.capture(["image", "inspect", "--format", "{{.Id}}", v.tags[0]])
            digest = res.stdout.strip()
            if not res.ok or not DIGEST.fullmatch(digest):
                return v, None, f"the build did not produce {v.tags[0]} (bake exited {code})"
        try:
            if not registry.has_manifest(Reference.parse(v.repos[0]), digest):
                return v, None, f"{v.repos[0]}@{digest} is not in the registry"
        except RegistryError as e:
            return v, None, str(e)
        return v, digest, ""

    found: dict[str, str] = {}
    failed: list[tuple[Variant, str]] = []
    local: list[Variant] = []
    for v, digest, why in map_bounded(one, variants, 8):
        if digest:
            found[v.name] = digest
            if code != 0 and not (v.tags and Reference.parse(v.tags[0]) in said):
                local.append(v)
        else:
            failed.append((v, why))
    return found, failed, local


def from_engine(variants: Sequence[Variant]) -> str:
    """What a split confirmed from the engine's local images (bake failed, so it wrote no
    metadata) cannot know, said once."""
    tags = ", ".join(t for v in variants for t in v.tags)
    return (
        f"bake wrote no metadata, so the digests of {tags} are the engine's local images of "
        "those names: this run's own unless another build on this engine named them since "
        "(bakeguard cannot tell; a concurrent run on another machine does not matter). Each "
        "is confirmed in the registry by that digest"
    )
