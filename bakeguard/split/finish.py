"""The split's end, once every platform is confirmed: each target's tags written from the
digests this run's bake reported (repo@sha256:..., never a per-platform tag read back: another
run pushing the same tag may have replaced it), then verified against the index this run
wrote, so that a tag another push wrote since is named as such. A Ctrl-C meanwhile stops the
writes and says what each tag holds."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bakeguard.definition import Definition, Target
from bakeguard.docker import Fed
from bakeguard.errors import BakeguardError, VerificationFailed
from bakeguard.interrupts import Interrupted, signals_interrupt
from bakeguard.probe import Environment
from bakeguard.split.assemble import Helpers, assembled, create, write_user_metadata
from bakeguard.split.plan import SplitPlan, Variant, index_annotations
from bakeguard.tasks import map_bounded

if TYPE_CHECKING:  # (the registry client and verifier load only after the bake)
    from bakeguard.registry import Registry
    from bakeguard.registry.attest import Wanted
    from bakeguard.session import Session

# Targets assembled at once: enough to keep the registry and the CPU busy while each waits.
ASSEMBLERS = 4


def unconfirmed(log: Any, failed: Sequence[tuple[Variant, str]]) -> None:
    for v, why in failed:
        log.error(f"platform {v.platform} of target {v.target} did not reach the registry: {why}")
    names = sorted({v.target for v, _ in failed})
    log.error(f"final tags of {', '.join(names)} left untouched (no partial tag written)")


def summary(
    plan: SplitPlan, names: Sequence[str], by_digest: bool, failed: Sequence[str]
) -> list[str]:
    """What a split did, in a few lines whatever its size: the targets and platforms
    assembled (a few named), where the docker driver's per-platform tags are, and every
    target that failed, by name. The per-target detail is the report's (`split`)."""

    def few(items: Sequence[str], n: int = 4) -> str:
        return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")

    plats = sorted({v.platform for v in plan.variants if v.target in set(names)})
    refs = [r for n in names for r in plan.split_targets[n].tag_refs]
    lines = []
    if names:
        lines.append(
            f"assembled {len(names)} target{'s' if len(names) != 1 else ''} x "
            f"{len(plats)} platforms ({', '.join(plats)}): {few(refs)}"
        )
        kept = [t for v in plan.variants if v.target in set(names) for t in v.tags]
        if not by_digest and kept:
            lines.append(
                f"{len(kept)} per-platform tags stay in the registry beside them (the docker "
                f"driver cannot push by digest), such as {kept[0]}; the report names each"
            )
    if failed:
        lines.append(f"not assembled: {', '.join(failed)}")
    return lines


@dataclass
class Finish:
    session: Session
    env: Environment
    defn: Definition
    plan: SplitPlan
    sources: Mapping[str, str]  # variant name -> the image this run pushed, repo@digest
    started: dict[str, tuple[Fed, bool]]  # target -> its imagetools create, started beside bake
    # the variants NOT in the registry (by their digests), with why
    recheck: Callable[[Sequence[Variant]], list[tuple[Variant, str]]]
    registry: Callable[[], Registry]
    # the attestations each target's tags must have (bakeguard.attestations)
    wanted: Callable[[Target], Wanted] | None = None
    helpers: Helpers = field(default_factory=Helpers)
    written: dict[str, str] = field(default_factory=dict)  # target -> the index it wrote

    def by_target(self) -> dict[str, list[Variant]]:
        out: dict[str, list[Variant]] = {}
        for v in self.plan.variants:
            out.setdefault(v.target, []).append(v)
        return out

    def assemble(self, name: str, variants: Sequence[Variant]) -> str:
        """Write target `name`'s tags (see `create`); returns who wrote them."""
        t = self.plan.split_targets[name]
        sources = [self.sources[v.name] for v in variants]
        started = self.started.pop(name, None)
        try:
            writer, digest = create(
                self.session,
                name,
                t.tag_refs,
                index_annotations(t),
                sources,
                started,
                self.registry,
                self.helpers,
            )
        except BakeguardError:
            if self.helpers.stopped.is_set():
                raise
            # a source imagetools could not read: is a platform missing from the registry?
            failed = self.recheck(variants)
            if not failed:
                raise
            unconfirmed(self.session.log, failed)
            raise VerificationFailed(
                f"target {name}: {len(failed)} of {len(variants)} platforms are not in the "
                "registry although bake reported them pushed",
                "check the registry (a front or proxy rewriting manifests?), then re-run",
            ) from None
        if digest is not None:
            self.written[name] = digest
        return writer

    def run(self, metadata: Mapping[str, Any] | None) -> int:
        by_target = self.by_target()
        # while imagetools runs: verification's module and a connection to each registry
        warming = threading.Thread(target=self._warm, daemon=True)
        warming.start()
        done = self.assemble_all(by_target)
        for name, writer in done.items():
            if isinstance(writer, str):
                vs = by_target[name]
                sources = [self.sources[v.name] for v in vs]
                t = self.plan.split_targets[name]
                assembled(self.session, t, vs, sources, self.plan.by_digest, writer)
        names = [n for n, w in done.items() if isinstance(w, str)]
        failed = [e for e in done.values() if isinstance(e, BakeguardError)]
        bad = [n for n, w in done.items() if isinstance(w, BakeguardError)]
        lines = summary(self.plan, names, self.plan.by_digest, bad)
        if lines:
            self.session.log.info(lines)
        if failed:
            # the targets assembled have their tags: say what each tag holds. A platform
            # missing from the registry stops its target before any write (imagetools reads
            # every source first): its tags are untouched, as are those of targets not started.
            warming.join()
            unwritten = [
                r
                for name, got in done.items()
                if got is None or isinstance(got, VerificationFailed)
                for r in self.plan.split_targets[name].tag_refs
            ]
            self.session.report_tags(self.defn, self.env, unwritten)
            raise failed[0]
        warming.join()
        return self.verify(by_target, metadata)

    def assemble_all(
        self, by_target: Mapping[str, Sequence[Variant]]
    ) -> dict[str, str | BakeguardError | None]:
        """Who wrote each target's tags, or what stopped it; None: not started, as an earlier
        target failed. A few targets at once: each mostly waits, on its imagetools and the
        registry. A Ctrl-C (or SIGTERM) stops them all and says what each tag holds."""
        stop = threading.Event()

        def one(name: str) -> str | BakeguardError | None:
            if stop.is_set():
                return None
            try:
                return self.assemble(name, by_target[name])
            except BakeguardError as e:
                stop.set()
                return e

        try:
            with signals_interrupt():
                got = map_bounded(one, by_target, ASSEMBLERS)
        except Interrupted:
            self.interrupted(by_target)
            raise
        return dict(zip(by_target, got, strict=True))

    def interrupted(self, by_target: Mapping[str, Sequence[Variant]]) -> None:
        """After a signal during the writes: nothing more starts, imagetools is killed, and
        the log and report say what each tag holds now; a tag no write reached is named as
        untouched (what it held before)."""
        self.helpers.stop()
        reached = sorted(self.helpers.writing)
        self.session.log.error(
            "interrupted while writing the split's tags"
            + (f" (a write of {', '.join(reached)} was under way)" if reached else "")
        )
        unwritten = [
            r
            for name in by_target
            if name not in self.helpers.writing
            for r in self.plan.split_targets[name].tag_refs
        ]
        self.session.report_tags(self.defn, self.env, unwritten, "interrupted")

    def verify(
        self, by_target: Mapping[str, Sequence[Variant]], metadata: Mapping[str, Any] | None
    ) -> int:
        """Every tag verified: the split's against the index this run wrote, the others'
        against bake's digests."""
        from bakeguard.registry.attest import Wanted
        from bakeguard.registry.verdict import advice
        from bakeguard.registry.verify import Expectation, expectations

        split, want = self.plan.split_targets, self.wanted or (lambda _t: Wanted())
        exps = [
            Expectation(
                name,
                ref,
                split[name].normalized_platforms,
                self.written.get(name),
                want(split[name]),
            )
            for name in by_target
            for ref in split[name].tag_refs
        ]
        others = Definition({n: self.defn.targets[n] for n in self.plan.other_targets})
        exps += expectations(others, metadata, wanted=want)
        session = self.session
        outcomes = session.verify(exps, self.env) if session.opts.verify else []
        write_user_metadata(session.bake.last("--metadata-file"), self.plan, metadata, outcomes)
        if not all(o.ok for o in outcomes):
            raise VerificationFailed(
                "verification failed after the split (see the table above)",
                advice(outcomes, suggest_split=False),
            )
        return 0

    def _warm(self) -> None:
        if not self.session.opts.verify:
            return
        import bakeguard.registry.verify  # noqa: F401

        self.registry().connect(r for t in self.plan.split_targets.values() for r in t.tag_refs)
