"""The split's run: the generated bake, each platform confirmed in the registry, the tags
assembled, verified, and the user's metadata file written."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bakeguard import generated
from bakeguard.compat import Compat
from bakeguard.definition import Definition, Target
from bakeguard.docker import Docker, Fed
from bakeguard.errors import EXIT_VERIFY, BakeguardError, VerificationFailed
from bakeguard.launch import Launch, execute
from bakeguard.probe import Environment
from bakeguard.report import read_object
from bakeguard.split.assemble import assembled, create, prestart_create, write_user_metadata
from bakeguard.split.confirm import check, forget_local
from bakeguard.split.plan import (
    SplitPlan,
    Variant,
    engine_pushes,
    index_annotations,
    make_plan,
    plan_outputs,
)
from bakeguard.split.shards import write_digest_files
from bakeguard.tasks import map_bounded
from bakeguard.terminal import Tail

# Targets assembled at once: enough to keep the registry and the CPU busy while each waits.
ASSEMBLERS = 4

if TYPE_CHECKING:  # (the registry client and verifier load only after the bake)
    from bakeguard.registry import Registry
    from bakeguard.session import Session


@dataclass
class SplitRun:
    session: Session
    env: Environment
    defn: Definition
    only_platforms: Sequence[str] | None = None
    shard_dir: str | None = None
    per_platform: bool = True  # False: a generated bake, not split (a profile, platforms)
    compat: Compat = field(default_factory=Compat)
    confirmed: dict[str, str] = field(default_factory=dict)  # variant name -> digest
    # target -> its imagetools create, and whether it only composes (see prestart_create)
    _started: dict[str, tuple[Fed, bool]] = field(default_factory=dict)

    @property
    def docker(self) -> Docker:
        return self.session.docker

    def plan(self) -> SplitPlan:
        by_digest, store = plan_outputs(self.env)
        return make_plan(
            self.defn,
            by_digest,
            self.session.opts.split_suffix,
            self.only_platforms,
            self.per_platform,
            self.compat,
            store,
        )

    def launch(self, plan: SplitPlan, tmp: str, beside: Callable[[], None] | None) -> Launch:
        """The generated bake of `plan` (its files written in `tmp`), and all that follows
        it (`after_bake`); `beside`: what runs beside it."""
        gen, meta = generated.write(tmp, plan.definition)
        argv, env, unset = generated.bake_call(
            self.session.bake, gen, meta, list(plan.definition["target"])
        )
        return Launch(
            argv,
            lambda code, seen: self.after_bake(plan, tmp, code, seen),
            env,
            unset,
            beside,
            ended_early=lambda _e: self.cancel_started(),
            cleanup=lambda: shutil.rmtree(tmp, ignore_errors=True),
        )

    def run(self, plan: SplitPlan | None = None) -> int:
        plan = plan or self.plan()
        tmp = tempfile.mkdtemp(prefix="bakeguard-split-")

        def beside() -> None:  # once bake runs: what is needed after it
            self.prestart(plan)
            if self.session.opts.verify:
                from bakeguard.warmup import preload_verification

                preload_verification()

        try:
            launch = self.launch(plan, tmp, beside)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return execute(self.docker, launch)

    def prestart(self, plan: SplitPlan) -> None:
        """Each split target's `imagetools create`, started beside bake (see
        `prestart_create`)."""
        if self.only_platforms is not None:
            return  # a shard assembles nothing
        repos: dict[str, list[str]] = {}
        for v in plan.variants:
            repos.setdefault(v.target, []).append(v.repos[0])
        for name, rs in repos.items():
            started = prestart_create(self.session, plan.split_targets[name], rs)
            if started is not None:
                self._started[name] = started

    def cancel_started(self) -> None:
        while self._started:
            self._started.popitem()[1][0].cancel()

    def after_bake(self, plan: SplitPlan, tmp: str, code: int, seen: Tail) -> int:
        """Everything after the generated bake: confirm each platform (one retry from cache
        for those that did not land), then assemble, verify and write the user's metadata.
        `tmp` (the folder of the generated files) is removed at the end."""
        log = self.session.log
        self.session.record["split"] = []
        gen, meta = generated.paths(tmp)
        try:
            self.session.record["bake_exit_code"] = code
            metadata = read_object(meta)
            # a shard writes digest files for a later merge: it confirms them itself
            if self.only_platforms is None and self.named_by_bake(plan.variants, code, metadata):
                failed = []  # `imagetools create` confirms them (see `assemble`)
            else:
                failed = self.confirm(plan.variants, plan.by_digest, code, metadata)
            if code != 0 and (failed or not plan.variants):
                retry = self.session.profiles.retry_for(seen.text(), self.defn, self.compat)
                if retry is not None:
                    with_profile = SplitRun(
                        self.session,
                        self.env,
                        self.defn,
                        self.only_platforms,
                        self.shard_dir,
                        self.per_platform,
                        self.compat.merged(retry),
                    )
                    return self.session.profiles.retrying(with_profile.run)
                if not plan.variants:
                    self.retry_ended_badly(seen)
                    if self.only_platforms is None:
                        self.session.report_tags(self.defn, self.env)
                    return code
            if failed:
                # Per-platform pushes of a shared layer upload the same blob at once; some
                # registries lose that race ("provided digest did not match uploaded content").
                # From cache, with the blob now in place, a second try is cheap.
                again = [v for v, _ in failed]
                plats = ", ".join(v.platform for v in again)
                if len(again) > 6:  # (a monorepo's: one line, not a platform per build)
                    plats = f"{len(again)} builds of {len({v.target for v in again})} targets"
                if plan.by_digest:
                    log.warning(f"bake exited {code}; pushing {plats} once more, from cache")
                elif engine_pushes(self.env):
                    log.warning(
                        f"bake exited {code} (on the docker driver buildx < 0.22 also fails in "
                        f"the engine's second push); re-running {plats} once from cache to "
                        "confirm each platform on its own"
                    )
                else:
                    log.warning(
                        f"bake exited {code}; re-running {plats} once from cache to confirm "
                        "each platform on its own"
                    )
                if not plan.by_digest:
                    # only this run may have named the engine's local per-platform images
                    self._forget_local(again)
                meta2 = os.path.join(tmp, "metadata-retry.json")
                code2 = generated.bake(
                    self.docker, self.session.bake, gen, meta2, [v.name for v in again], Tail()
                )
                metadata = {**(metadata or {}), **(read_object(meta2) or {})}
                failed = self.confirm(
                    again, plan.by_digest, code2, read_object(meta2), local_fresh=True
                )
                if not failed:
                    code = code2
            if failed:
                self.retry_ended_badly(seen)
                self.unconfirmed(failed)
                if self.only_platforms is None:
                    # bakeguard wrote none of the final tags: whatever they hold, they held
                    unwritten = [r for t in plan.split_targets.values() for r in t.tag_refs]
                    self.session.report_tags(self.defn, self.env, unwritten)
                return code or EXIT_VERIFY
            if self.only_platforms is not None:
                if code != 0 and not plan.by_digest:
                    log.warning(f"bake exited {code}; every platform is confirmed by digest")
                sources = {v.name: self.source(v) for v in plan.variants}
                write_digest_files(plan, self.shard_dir or ".", sources, self.session.log)
                return 0
            if code != 0:
                why = (
                    " (on the docker driver, buildx < 0.22 fails in the engine's second push: "
                    "advisory docker-driver-double-push)"
                    if engine_pushes(self.env)
                    else ""
                )
                log.warning(
                    f"bake exited {code}, yet every platform's push is confirmed in the registry "
                    f"by digest{why}; continuing"
                )
            return self.assemble_all(plan, metadata)
        finally:
            self.cancel_started()  # not assembled (bake failed, a platform is missing, ...)
            shutil.rmtree(tmp, ignore_errors=True)
            self.session.close_kept_registry()  # when not handed to verification

    def retry_ended_badly(self, seen: Tail) -> None:
        """When this run is the one retry with a profile and it ends failed (not before: a
        platform the retry re-pushes from cache may still land), both errors are named."""
        if self.session.profiles.rejection is not None:
            self.session.profiles.retry_failed(seen.text())

    def unconfirmed(self, failed: Sequence[tuple[Variant, str]]) -> None:
        log = self.session.log
        for v, why in failed:
            log.error(
                f"platform {v.platform} of target {v.target} did not reach the registry: {why}"
            )
        names = sorted({v.target for v, _ in failed})
        log.error(f"final tags of {', '.join(names)} left untouched (no partial tag written)")

    def named_by_bake(
        self, variants: Sequence[Variant], code: int, metadata: Mapping[str, Any] | None
    ) -> bool:
        """Bake succeeded and its metadata names the digest of every platform it pushed: no
        separate confirm then, because `imagetools create` reads every source by that digest
        from the registry before it writes any tag (a source missing there fails it, and
        `assemble` then says which platform)."""
        digests = {
            v.name: str((metadata or {}).get(v.name, {}).get("containerimage.digest", ""))
            for v in variants
        }
        if code != 0 or not all(d.startswith("sha256:") for d in digests.values()):
            return False
        self.confirmed.update(digests)
        return True

    def _forget_local(self, variants: Sequence[Variant]) -> None:
        forget_local(self.docker, variants)

    def confirm(
        self,
        variants: Sequence[Variant],
        by_digest: bool,
        code: int,
        metadata: Mapping[str, Any] | None,
        local_fresh: bool = False,
    ) -> list[tuple[Variant, str]]:
        """The variants whose push is NOT in the registry, with why (`confirm.check`); the
        others' digests are kept in `confirmed`."""
        if not variants:
            return []
        found, failed = check(
            self.docker, self._registry(), variants, by_digest, code, metadata, local_fresh
        )
        self.confirmed.update(found)
        return failed

    def source(self, v: Variant) -> str:
        """The confirmed per-platform image, by digest: what the final tags are made from
        (never the per-platform tag, which a registry may have rewritten)."""
        return f"{v.repos[0]}@{self.confirmed[v.name]}"

    def _registry(self) -> Registry:
        """The run's registry client (its import is real CPU work: made after the bake, not
        while it runs), kept for verification; after_bake closes it otherwise."""
        return self.session.kept_registry(self.env)

    def assemble(self, t: Target, variants: Sequence[Variant], by_digest: bool) -> str:
        """Write t's tags (see `create`); returns who wrote them."""
        sources = [self.source(v) for v in variants]
        started = self._started.pop(t.name, None)
        try:
            return create(
                self.session,
                t.name,
                t.tag_refs,
                index_annotations(t),
                sources,
                started,
                self._registry,
            )
        except BakeguardError:
            # a source imagetools could not read: is a platform missing from the registry?
            meta = {v.name: {"containerimage.digest": self.confirmed[v.name]} for v in variants}
            failed = self.confirm(variants, by_digest, 0, meta)
            if not failed:
                raise
            self.unconfirmed(failed)
            raise VerificationFailed(
                f"target {t.name}: {len(failed)} of {len(variants)} platforms are not in the "
                "registry although bake reported them pushed",
                "check the registry (a front or proxy rewriting manifests?), then re-run",
            ) from None

    def assemble_all(self, plan: SplitPlan, metadata: Mapping[str, Any] | None) -> int:
        by_target: dict[str, list[Variant]] = {}
        for v in plan.variants:
            by_target.setdefault(v.target, []).append(v)
        # while imagetools runs: verification's module and a connection to each registry
        warming = threading.Thread(target=self._warm, args=(plan,), daemon=True)
        warming.start()
        stop = threading.Event()

        def one(name: str) -> str | BakeguardError | None:
            """Who wrote the target's tags, or what stopped it; None: not started, as an
            earlier target failed."""
            if stop.is_set():
                return None
            try:
                return self.assemble(plan.split_targets[name], by_target[name], plan.by_digest)
            except BakeguardError as e:
                stop.set()
                return e

        # A few targets at once: each mostly waits, on its imagetools and the registry.
        done = dict(zip(by_target, map_bounded(one, by_target, ASSEMBLERS), strict=True))
        for name, writer in done.items():
            if isinstance(writer, str):
                vs = by_target[name]
                sources = [self.source(v) for v in vs]
                t = plan.split_targets[name]
                assembled(self.session, t, vs, sources, plan.by_digest, writer)
        failed = [e for e in done.values() if isinstance(e, BakeguardError)]
        if failed:
            # the targets assembled have their tags: say what each tag holds. A platform
            # missing from the registry stops its target before any write (imagetools reads
            # every source first): its tags are untouched, as are those of targets not started.
            warming.join()
            unwritten = [
                r
                for name, got in done.items()
                if got is None or isinstance(got, VerificationFailed)
                for r in plan.split_targets[name].tag_refs
            ]
            self.session.report_tags(self.defn, self.env, unwritten)
            raise failed[0]
        warming.join()
        from bakeguard.registry.verify import Expectation, advice, expectations

        exps = [
            Expectation(name, ref, plan.split_targets[name].normalized_platforms)
            for name in by_target
            for ref in plan.split_targets[name].tag_refs
        ]
        others = Definition({n: self.defn.targets[n] for n in plan.other_targets})

        exps += expectations(others, metadata)
        outcomes = self.session.verify(exps, self.env) if self.session.opts.verify else []
        write_user_metadata(self.session.bake.last("--metadata-file"), plan, metadata, outcomes)
        if not all(o.ok for o in outcomes):
            raise VerificationFailed(
                "verification failed after the split (see the table above)",
                advice(outcomes, suggest_split=False),
            )
        return 0

    def _warm(self, plan: SplitPlan) -> None:
        if not self.session.opts.verify:
            return
        import bakeguard.registry.verify  # noqa: F401

        self._registry().connect(r for t in plan.split_targets.values() for r in t.tag_refs)
