"""Which attestations a target's push carries, for verification to prove on every platform
(bakeguard.registry.attest): the kinds its printed `attest` turns on (bake's `attest`, and
`--provenance` / `--sbom`, which every buildx tested folds into it), and buildx's default
provenance; none where a registry compatibility profile pushes without them, which is said,
not counted as a loss.

buildx's default (build/build.go `toSolveOpt` from v0.10.0, docker/buildx f0262dd10; in
build/opt.go since 4b516af1f; unchanged in v0.36.1's): when the build's attestations name no
`provenance` at all (a disabled one counts) and the node supports attestations (BuildKit's
`exporter.image.attestations` cap, BuildKit >= 0.11, and the driver's MultiPlatform feature:
docker-container, remote and kubernetes; the docker driver only with the containerd image
store, driver/docker/driver.go `Features`), buildx adds
`attest:provenance=mode=min,inline-only=true`; from v0.11.0 (bc9cb2c66) not when
BUILDX_NO_DEFAULT_ATTESTATIONS is true (Go's strconv.ParseBool). The stack shows it on every
buildx it has (v0.13.1, v0.21.1, v0.22.0, v0.38.2), on the docker driver with the containerd
store and on the remote builders. Where bakeguard cannot tell (an unknown buildx version or
image store), the default is not required."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from packaging.version import Version

from bakeguard.definition import TRUE, Target, parse_csv_attrs
from bakeguard.registry.attest import KINDS, PROVENANCE, Wanted
from bakeguard.versions import parse_buildx_version

if TYPE_CHECKING:
    from bakeguard.compat import Compat
    from bakeguard.probe import Environment

DEFAULT_SINCE = Version("0.10.0")  # buildx's first default provenance
NO_DEFAULT_SINCE = Version("0.11.0")  # buildx's first BUILDX_NO_DEFAULT_ATTESTATIONS
BUILDKIT_SINCE = Version("0.11.0")  # BuildKit's first exporter.image.attestations
ATTESTING_DRIVERS = ("docker-container", "remote", "kubernetes")
DROPPING = ("no-attestations", "docker-v2")  # profiles that push without attestations
NO_DEFAULT = "BUILDX_NO_DEFAULT_ATTESTATIONS"
GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")  # strconv.ParseBool's true


def asked(t: Target) -> tuple[tuple[str, ...], bool]:
    """The kinds t's `attest` entries turn on, and whether any entry names provenance
    (turned off or not: then buildx adds no default). Entries print as objects
    ({"type": "sbom"}, {"type": "provenance", "disabled": true}) or, in older buildx, as
    CSV strings ("type=provenance,disabled=true")."""
    kinds: list[str] = []
    names_provenance = False
    for a in t.raw.get("attest") or ():
        attrs = (
            {str(k).lower(): str(v) for k, v in a.items()}
            if isinstance(a, Mapping)
            else parse_csv_attrs(str(a))
        )
        kind = attrs.get("type", "").lower()
        names_provenance = names_provenance or kind == PROVENANCE
        if kind in KINDS and attrs.get("disabled", "false").lower() not in TRUE:
            kinds.append(kind)
    return tuple(k for k in KINDS if k in kinds), names_provenance


def default_provenance(env: Environment | None, environ: Mapping[str, str]) -> bool:
    """Whether buildx adds its default provenance on this builder (see the module
    docstring); False where bakeguard cannot tell."""
    if env is None or env.builder is None:
        return False
    version = env.buildx.version
    if version is None or version < DEFAULT_SINCE:
        return False
    if version >= NO_DEFAULT_SINCE and environ.get(NO_DEFAULT, "") in GO_TRUE:
        return False
    if env.driver == "docker":
        return env.containerd_store is True
    if env.driver not in ATTESTING_DRIVERS:
        return False
    for node in env.builder.nodes:  # a node whose BuildKit is known to lack the cap
        known = parse_buildx_version(node.buildkit or "").version
        if known is not None and known < BUILDKIT_SINCE:
            return False
    return True


def wanted(
    t: Target, env: Environment | None, compat: Compat | None, environ: Mapping[str, str]
) -> Wanted:
    """The attestations every platform of t's tags must have after its push."""
    kinds, names_provenance = asked(t)
    if not names_provenance and default_provenance(env, environ):
        kinds = tuple(k for k in KINDS if k in (*kinds, PROVENANCE))
    profile = compat.for_target(t) if compat is not None and t.pushes else None
    if kinds and profile in DROPPING:
        return Wanted((), f"the {profile} profile pushes without them ({', '.join(kinds)})")
    return Wanted(kinds)


def wanted_for(
    env: Environment | None, compat: Compat | None, environ: Mapping[str, str]
) -> Callable[[Target], Wanted]:
    return lambda t: wanted(t, env, compat, environ)
