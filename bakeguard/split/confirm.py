"""Each platform of a split confirmed in the registry on its own, by digest: what bake's
metadata names when bake succeeded; after a failed bake on the docker driver (maybe only its
second push through the engine), the engine's local per-platform image, named by this run
alone (its tag was removed before the bake: `forget_local`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bakeguard.docker import Docker
from bakeguard.refs import Reference
from bakeguard.split.plan import Variant
from bakeguard.tasks import map_bounded

if TYPE_CHECKING:  # (the registry client loads only after the bake)
    from bakeguard.registry import Registry


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
) -> tuple[dict[str, str], list[tuple[Variant, str]]]:
    """(variant name -> digest for those in the registry, [(variant, why)] for the others).
    After a failed bake on the docker driver, the engine's local images count only when
    `local_fresh` (their tags were removed before that bake)."""
    from bakeguard.registry import RegistryError

    registry.start()  # a budget of its own: not what an earlier assembly spent

    def one(v: Variant) -> tuple[Variant, str | None, str]:
        if code == 0 and metadata and v.name in metadata:
            # bake succeeded: its metadata names what it pushed
            digest = str(metadata[v.name].get("containerimage.digest", ""))
        elif by_digest or code == 0 or not local_fresh:
            return v, None, f"bake exited {code}"
        else:
            # docker driver, bake failed (maybe only in the engine's second push): the
            # engine's local image, named by this run (the tag was removed before it)
            res = docker.capture(["image", "inspect", "--format", "{{.Id}}", v.tags[0]])
            digest = res.stdout.strip()
            if not res.ok or not digest.startswith("sha256:"):
                return v, None, f"the build did not produce {v.tags[0]} (bake exited {code})"
        try:
            if not registry.has_manifest(Reference.parse(v.repos[0]), digest):
                return v, None, f"{v.repos[0]}@{digest} is not in the registry"
        except RegistryError as e:
            return v, None, str(e)
        return v, digest, ""

    found: dict[str, str] = {}
    failed: list[tuple[Variant, str]] = []
    for v, digest, why in map_bounded(one, variants, 8):
        if digest:
            found[v.name] = digest
        else:
            failed.append((v, why))
    return found, failed
