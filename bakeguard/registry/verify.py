"""Proof in the registry: every pushed tag holds every requested platform, each child
manifest resolves, and the tag's digest is the one bake reported. Each outcome also names
what the registry holds per platform (digest, media type) and what each attestation
attests, read from the tag's own manifest: bake's metadata names one digest per target."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bakeguard.definition import Definition
from bakeguard.interrupts import signals_interrupt
from bakeguard.platforms import from_oci, is_attestation
from bakeguard.refs import Reference, problem
from bakeguard.registry import AccessDenied, Registry, RegistryError, Unreachable
from bakeguard.tasks import map_bounded


@dataclass(frozen=True)
class Expectation:
    target: str
    ref: str
    platforms: tuple[str, ...]  # normalized; empty: whatever single platform the builder made
    digest: str | None = None  # what bake (or imagetools create) reported


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


def _size(descriptor: Mapping[str, Any]) -> int | None:
    size = descriptor.get("size")
    return size if isinstance(size, int) and not isinstance(size, bool) else None


def children(
    index: Mapping[str, Any],
) -> tuple[tuple[PlatformManifest, ...], tuple[Attestation, ...]]:
    """An index's platform manifests and attestations, in the index's order, from its
    descriptors alone (no request per child)."""
    plats: list[PlatformManifest] = []
    atts: list[Mapping[str, Any]] = []
    for entry in index.get("manifests") or []:
        if is_attestation(entry):
            atts.append(entry)
            continue
        plats.append(
            PlatformManifest(
                from_oci(entry.get("platform") or {}),
                str(entry["digest"]),
                entry.get("mediaType"),
                _size(entry),
            )
        )
    by_digest = {p.digest: p.platform for p in plats}
    attestations = []
    for entry in atts:
        ann = entry.get("annotations") or {}
        subject = ann.get("vnd.docker.reference.digest") if isinstance(ann, Mapping) else None
        subject = str(subject) if subject else None
        attestations.append(
            Attestation(
                str(entry["digest"]),
                entry.get("mediaType"),
                _size(entry),
                subject,
                by_digest.get(subject) if subject else None,
            )
        )
    return tuple(plats), tuple(attestations)


@dataclass(frozen=True)
class Outcome:
    target: str
    ref: str
    expected: tuple[str, ...]
    found: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    digest: str | None = None
    expected_digest: str | None = None
    media_type: str | None = None
    missing_children: tuple[str, ...] = ()
    error: str | None = None
    unreachable: bool = False  # no HTTP answer from the registry (see registry.Unreachable)
    status: int | None = None  # the registry's HTTP status when it refused or lacked the tag
    auth: str | None = None  # no-credentials | refused | forbidden (registry.AccessDenied)
    fix: str | None = None  # what to run about `error`, when bakeguard knows
    platform_manifests: tuple[PlatformManifest, ...] = ()
    attestations: tuple[Attestation, ...] = ()

    @property
    def digest_ok(self) -> bool:
        return not self.expected_digest or self.expected_digest == self.digest

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and bool(self.found)
            and not self.missing
            and not self.missing_children
            and self.digest_ok
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "ref": self.ref,
            "ok": self.ok,
            "expected": list(self.expected),
            "found": list(self.found),
            "missing": list(self.missing),
            "extra": list(self.extra),
            "digest": self.digest,
            "expected_digest": self.expected_digest,
            "media_type": self.media_type,
            "missing_children": list(self.missing_children),
            "error": self.error,
            "unreachable": self.unreachable,
            "status": self.status,
            "auth": self.auth,
            "fix": self.fix,
            "platform_manifests": [p.to_json() for p in self.platform_manifests],
            "attestations": [a.to_json() for a in self.attestations],
        }


def expectations(
    defn: Definition,
    metadata: Mapping[str, Any] | None = None,
    targets: Sequence[str] | None = None,
) -> list[Expectation]:
    out: list[Expectation] = []
    for t in defn.pushing:
        if targets is not None and t.name not in targets:
            continue
        meta = (metadata or {}).get(t.name) or {}
        digest = meta.get("containerimage.digest") if isinstance(meta, Mapping) else None
        for ref in t.tag_refs:
            out.append(Expectation(t.name, ref, t.normalized_platforms, digest))
    return out


@dataclass
class Verifier:
    registry: Registry
    workers: int = 16
    lag_ok: bool = True

    def run(self, exps: Sequence[Expectation]) -> list[Outcome]:
        """Every expectation checked, within the registry's budget from now; a Ctrl-C or
        SIGTERM meanwhile raises Interrupted at once, whatever the registry is doing."""
        if not exps:
            return []
        self.registry.start()
        with signals_interrupt():
            return map_bounded(self.check, exps, self.workers)

    def check(self, exp: Expectation) -> Outcome:
        refused = refused_name(exp)
        if refused is not None:
            return refused
        ref = Reference.parse(exp.ref)
        try:
            m = self.registry.manifest(ref, lag_ok=self.lag_ok)
            missing_children: list[str] = []
            attestations: tuple[Attestation, ...] = ()
            if m.is_index:
                manifests, attestations = children(m.doc)
                for p in manifests:
                    if not self.registry.has_manifest(ref, p.digest):
                        missing_children.append(p.digest)
            else:
                cfg = self.registry.blob_json(ref, str(m.doc["config"]["digest"]))
                manifests = (PlatformManifest(from_oci(cfg), m.digest, m.media_type, m.size),)
            found = [p.platform for p in manifests]
        except RegistryError as e:
            denied = e if isinstance(e, AccessDenied) else None
            return Outcome(
                exp.target,
                exp.ref,
                exp.platforms,
                expected_digest=exp.digest,
                error=str(e),
                unreachable=isinstance(e, Unreachable),
                status=e.status,
                auth=denied.problem if denied else None,
                fix=denied.fix if denied else None,
            )
        found_t = tuple(dict.fromkeys(found))
        expected = exp.platforms
        missing = tuple(p for p in expected if p not in found_t)
        extra = tuple(p for p in found_t if expected and p not in expected)
        return Outcome(
            exp.target,
            exp.ref,
            expected,
            found_t,
            missing,
            extra,
            m.digest,
            exp.digest,
            m.media_type,
            tuple(missing_children),
            platform_manifests=manifests,
            attestations=attestations,
        )


def refused_name(exp: Expectation) -> Outcome | None:
    """A name that is no image reference (refs.problem) is never read from the registry:
    bake refuses it, so nothing was pushed there, and a request for it would ask for another
    name or could not be sent at all."""
    why = problem(exp.ref)
    if why is None:
        return None
    return Outcome(
        exp.target,
        exp.ref,
        exp.platforms,
        expected_digest=exp.digest,
        error=f"not a valid image reference: {why}; bake refuses it, so nothing was pushed there",
        fix="correct the name in the bake definition (--set TARGET.tags=... or the file)",
    )


def reach_hint(outcomes: Sequence[Outcome]) -> str | None:
    """What to check when some registry gave no answer at all: the push may have reached it
    from the engine, yet this machine (bakeguard reads the registry itself) could not."""
    hosts = sorted({Reference.parse(o.ref).registry for o in outcomes if o.unreachable})
    if not hosts:
        return None
    names = ", ".join(hosts)
    return (
        f"could not reach {names} from this machine (verification reads the registry from "
        "here, not from the engine). Check the name; behind a proxy, set HTTPS_PROXY / "
        "HTTP_PROXY / NO_PROXY (read as docker reads them); for a private CA, "
        f"/etc/docker/certs.d/{hosts[0]}/ca.crt"
    )


def table(outcomes: Sequence[Outcome]) -> str:
    """The human summary, one line per tag (plus a line per problem)."""
    lines = []
    for o in outcomes:
        want = len(o.expected) or 1
        head = f"verify {o.ref} (target {o.target}):"
        if o.ok:
            d = (o.digest or "")[:19]
            lines.append(f"{head} OK, {len(o.found)}/{want} platforms ({', '.join(o.found)}) {d}")
            continue
        lines.append(f"{head} FAILED")
        if o.error:
            lines.append(f"  error: {o.error}")
        if o.fix:
            lines.append(f"  fix: {o.fix}")
        if o.missing:
            lines.append(f"  missing: {', '.join(o.missing)}")
        if o.found or not o.error:
            lines.append(f"  found: {', '.join(o.found) or 'nothing'}")
        if o.extra:
            lines.append(f"  extra: {', '.join(o.extra)}")
        if o.missing_children:
            lines.append(f"  child manifests missing: {', '.join(o.missing_children)}")
        if not o.digest_ok:
            lines.append(f"  tag digest {o.digest} is not the pushed {o.expected_digest}")
    return "\n".join(lines)


RECHECK = "`bakeguard --guard-verify-only ARGS` re-checks without building"


def advice(
    outcomes: Sequence[Outcome], otherwise: str | None = None, suggest_split: bool = True
) -> str:
    """What to do about failed outcomes, from what failed: the failed tags' own fix
    (`docker login HOST` ...); a tag that holds every platform but names another digest was
    written by another push after this one (a concurrent run), which no bakeguard option
    changes; platforms missing from a plain push are what the split's one index write
    avoids (`suggest_split`)."""
    failed = [o for o in outcomes if not o.ok]
    fixes = [o.fix for o in failed if o.fix]
    if fixes:
        return "; ".join(dict.fromkeys(fixes))
    if failed and all(o.found and not o.missing and not o.digest_ok for o in failed):
        return (
            "another push wrote the tag after this one (a concurrent run or job pushing the "
            f"same tag?); make one job own each tag. {RECHECK}"
        )
    if suggest_split and any(o.found and o.missing for o in failed):
        return f"re-run with --guard-split=always, or check the registry; {RECHECK}"
    return otherwise or f"check the registry; {RECHECK}"
