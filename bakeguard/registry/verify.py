"""Proof in the registry: every pushed tag holds every requested platform, each child
manifest resolves, and the tag's digest is the one bake reported. Each outcome also names
what the registry holds per platform (digest, media type) and what each attestation
attests, read from the tag's own manifest: bake's metadata names one digest per target.
Entries that are not a platform's image (artifacts, nested indexes, entries of unknown type
or without a platform: bakeguard.registry.entries) are named, never counted as platforms.
When the build asked for attestations, every platform's are read and matched to the kinds
asked (bakeguard.registry.attest): one GET per attestation manifest, after every tag is read."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bakeguard.definition import Definition, Target
from bakeguard.interrupts import signals_interrupt
from bakeguard.metadata import pushed_digest
from bakeguard.refs import Reference, problem
from bakeguard.registry import AccessDenied, Registry, RegistryError, Unreachable
from bakeguard.registry.attest import Check, Tag, Wanted, check_all
from bakeguard.registry.entries import (
    Attestation,
    Children,
    PlatformManifest,
    Unverified,
    children,
)
from bakeguard.registry.manifests import Index, Manifest
from bakeguard.tasks import map_bounded


@dataclass(frozen=True)
class Expectation:
    target: str
    ref: str
    platforms: tuple[str, ...]  # normalized; empty: whatever single platform the builder made
    digest: str | None = None  # what bake (or imagetools create) reported
    attest: Wanted = field(default_factory=Wanted)  # the attestations every platform must have


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
    unverified: tuple[Unverified, ...] = ()  # entries that are not verified platforms
    # the tag's digest when it holds a platform manifest this run did not push (`theirs`)
    another_push: str | None = None
    attest: Check = field(
        default_factory=Check
    )  # its platforms' attestations, when some are wanted

    @property
    def ok(self) -> bool:
        """The tag is whole. Whose it is does not count: a whole tag that another push wrote
        after this one (`another_push`) is a warning, not a failure, as no run could do
        better; a tag lacking platforms is a failure, whoever wrote it."""
        return (
            self.error is None
            and bool(self.found)
            and not self.missing
            and not self.missing_children
            and self.attest.ok
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
            "unverified": [u.to_json() for u in self.unverified],
            "another_push": self.another_push,
            **self.attest.to_json(),
        }


def expectations(
    defn: Definition,
    metadata: Mapping[str, Any] | None = None,
    targets: Sequence[str] | None = None,
    wanted: Callable[[Target], Wanted] | None = None,
) -> list[Expectation]:
    """What each pushed tag must hold; `wanted`: the attestations of a target's push
    (bakeguard.attestations), none when not given."""
    out: list[Expectation] = []
    for t in defn.pushing:
        if targets is not None and t.name not in targets:
            continue
        digest = pushed_digest((metadata or {}).get(t.name))
        want = wanted(t) if wanted is not None else Wanted()
        for ref in t.tag_refs:
            out.append(Expectation(t.name, ref, t.normalized_platforms, digest, want))
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
            outcomes = map_bounded(self.check, exps, self.workers)
            return self.attested(exps, outcomes)

    def attested(self, exps: Sequence[Expectation], outcomes: list[Outcome]) -> list[Outcome]:
        """Each outcome with its platforms' attestations checked against what was wanted
        (read only where some kind is wanted and the tag was read)."""
        tags = [
            Tag(Reference.parse(e.ref), e.attest, o.platform_manifests, e.platforms, o.attestations)
            if o.error is None
            else Tag(None, e.attest)
            for e, o in zip(exps, outcomes, strict=True)
        ]
        checks = check_all(self.registry, tags, self.workers)
        return [dataclasses.replace(o, attest=c) for o, c in zip(outcomes, checks, strict=True)]

    def read(self, ref: Reference) -> tuple[Manifest, Children, tuple[str, ...]]:
        """What ref holds: its manifest, the platforms, attestations and other entries in
        it, and the digests of platform manifests its index names that do not resolve."""
        m = self.registry.manifest(ref, lag_ok=self.lag_ok)
        if isinstance(m.doc, Index):
            kids = children(m.doc, m.digest)
            gone = [
                p.digest for p in kids.platforms if not self.registry.has_manifest(ref, p.digest)
            ]
            return m, kids, tuple(gone)
        why = m.doc.artifact
        if why is not None:  # no image, so no config to read a platform from
            return m, Children((), (), (Unverified(m.digest, m.media_type, None, why),)), ()
        platform = self.registry.config_platform(ref, m.doc.config).normalized
        return (
            m,
            Children((PlatformManifest(platform, m.digest, m.media_type, m.size),), (), ()),
            (),
        )

    def check(self, exp: Expectation) -> Outcome:
        refused = refused_name(exp)
        if refused is not None:
            return refused
        ref = Reference.parse(exp.ref)
        try:
            m, kids, missing_children = self.read(ref)
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
        found = tuple(dict.fromkeys(p.platform for p in kids.platforms))
        expected = exp.platforms
        return Outcome(
            exp.target,
            exp.ref,
            expected,
            found,
            tuple(p for p in expected if p not in found),
            tuple(p for p in found if expected and p not in expected),
            m.digest,
            exp.digest,
            m.media_type,
            missing_children,
            platform_manifests=kids.platforms,
            attestations=kids.attestations,
            unverified=kids.unverified,
            another_push=(
                m.digest if self.theirs(ref, exp.digest, m.digest, kids.platforms) else None
            ),
        )

    def theirs(
        self, ref: Reference, pushed: str | None, digest: str, manifests: Sequence[PlatformManifest]
    ) -> bool:
        """Whether the tag (now `digest`, holding `manifests`) holds a platform manifest that
        what this run pushed (`pushed`, read by digest) does not: another push wrote the tag
        after this one. A tag holding only this run's manifests is this run's even when the
        registry rewrote it (a registry keeping one platform of an index: then platforms are
        missing, which is the failure to name)."""
        if not pushed or pushed == digest:
            return False
        try:
            mine = self.registry.manifest(Reference(ref.registry, ref.repository, None, pushed))
        except RegistryError:
            return True  # what this run pushed is not there to compare: the tag is not it
        listed = mine.doc.manifests if isinstance(mine.doc, Index) else ()
        ours = {pushed, *(d.digest for d in listed)}
        return any(p.digest not in ours for p in manifests)


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
