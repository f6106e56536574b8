"""The split's run: the generated bake, each platform confirmed in the registry, the tags
assembled, verified, and the user's metadata file written."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bakeguard import generated, jobs
from bakeguard.compat import Compat
from bakeguard.definition import Definition, Target
from bakeguard.docker import Docker, Fed
from bakeguard.errors import EXIT_VERIFY
from bakeguard.launch import Launch, execute
from bakeguard.metadata import pushed_digest
from bakeguard.probe import Environment
from bakeguard.report import read_object
from bakeguard.split.assemble import prestart_create
from bakeguard.split.confirm import bake_said, check, forget_local, from_engine
from bakeguard.split.finish import Finish, unconfirmed
from bakeguard.split.plan import (
    SplitPlan,
    Variant,
    engine_pushes,
    make_plan,
    plan_outputs,
)
from bakeguard.split.shards import write_digest_files
from bakeguard.terminal import Tail

if TYPE_CHECKING:  # (the registry client and verifier load only after the bake)
    from bakeguard.registry import Registry
    from bakeguard.registry.attest import Wanted
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
        b = self.bounded(gen, meta, list(plan.definition["target"]))
        return Launch(
            b.argv,
            lambda code, seen: self.after_bake(plan, tmp, code, seen),
            b.env,
            b.unset,
            beside,
            ended_early=lambda _e: self.cancel_started(),
            cleanup=lambda: shutil.rmtree(tmp, ignore_errors=True),
            chunked=b.chunked,
        )

    def bounded(self, gen: str, meta: str, targets: Sequence[str]) -> generated.Bake:
        """A bake of the generated definition's `targets`, bounded from its first attempt
        (jobs.py): the docker driver loses builds a bake starts all at once."""
        return generated.bounded(
            self.session.bake, gen, meta, targets, jobs.native(self.env), jobs.at_once(self.env)
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
        for name, rs in list(repos.items())[: jobs.PRESTARTED]:  # (the others: at assembly)
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
                failed = self.confirm(plan.variants, plan.by_digest, code, metadata, seen)
            if code != 0 and (failed or not plan.variants):
                retry = self.session.profiles.retry_for(
                    seen.text(), self.defn, self.compat, engine_pushes(self.env)
                )
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
                again_ = (
                    f"pushing {plats} once more, from cache"
                    if plan.by_digest
                    else f"re-running {plats} once from cache to confirm each platform on its own"
                )
                log.warning([f"bake exited {code}: {bake_said(seen.text())}", again_])
                if not plan.by_digest:
                    # so that the retry's bake, not an earlier run's, names the engine's local
                    # per-platform images (another build on this engine may yet: from_engine)
                    self._forget_local(again)
                meta2, seen2 = os.path.join(tmp, "metadata-retry.json"), Tail()
                code2 = self.bounded(gen, meta2, [v.name for v in again]).run(self.docker, seen2)
                metadata = {**(metadata or {}), **(read_object(meta2) or {})}
                failed = self.confirm(again, plan.by_digest, code2, read_object(meta2), seen2, True)
                if not failed:
                    code = code2
            if failed:
                self.retry_ended_badly(seen)
                unconfirmed(log, failed)
                if self.only_platforms is None:
                    # bakeguard wrote none of the final tags: whatever they hold, they held
                    unwritten = [r for t in plan.split_targets.values() for r in t.tag_refs]
                    self.session.report_tags(self.defn, self.env, unwritten)
                return code or EXIT_VERIFY
            if self.only_platforms is not None:
                if code != 0 and not plan.by_digest:
                    log.warning(f"bake exited {code}; every platform is confirmed by digest")
                sources = {v.name: self.source(v) for v in plan.variants}
                write_digest_files(
                    plan, self.shard_dir or ".", sources, self.session.log, self.wanted()
                )
                return 0
            if code != 0:
                log.warning(
                    [
                        f"bake exited {code}, yet every platform's push is confirmed in the "
                        "registry by digest; continuing",
                        f"({bake_said(seen.text())})",
                    ]
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

    def named_by_bake(
        self, variants: Sequence[Variant], code: int, metadata: Mapping[str, Any] | None
    ) -> bool:
        """Bake succeeded and its metadata names the digest of every platform it pushed: no
        separate confirm then, because `imagetools create` reads every source by that digest
        from the registry before it writes any tag (a source missing there fails it, and
        `assemble` then says which platform). The digests are BuildKit's own
        (bakeguard.metadata), never what a per-platform tag names later."""
        digests = {v.name: pushed_digest((metadata or {}).get(v.name)) for v in variants}
        if code != 0 or not all(digests.values()):
            return False
        self.confirmed.update({k: d for k, d in digests.items() if d})
        return True

    def _forget_local(self, variants: Sequence[Variant]) -> None:
        forget_local(self.docker, variants)

    def confirm(
        self,
        variants: Sequence[Variant],
        by_digest: bool,
        code: int,
        metadata: Mapping[str, Any] | None,
        seen: Tail | None = None,
        local_fresh: bool = False,
    ) -> list[tuple[Variant, str]]:
        """The variants whose push is NOT in the registry, with why (`confirm.check`); the
        others' digests are kept in `confirmed`. `seen`: bake's output."""
        if not variants:
            return []
        output = seen.text() if seen is not None else ""
        found, failed, local = check(
            self.docker, self._registry(), variants, by_digest, code, metadata, local_fresh, output
        )
        self.confirmed.update(found)
        if local:
            self.session.log.warning(from_engine(local))
        return failed

    def wanted(self) -> Callable[[Target], Wanted]:
        """The attestations each target's push carries, with this run's profiles."""
        from bakeguard.attestations import wanted_for

        return wanted_for(self.env, self.compat, self.session.environ)

    def source(self, v: Variant) -> str:
        """The confirmed per-platform image, by digest: what the final tags are made from
        (never the per-platform tag, which a registry may have rewritten)."""
        return f"{v.repos[0]}@{self.confirmed[v.name]}"

    def _registry(self) -> Registry:
        """The run's registry client (its import is real CPU work: made after the bake, not
        while it runs), kept for verification; after_bake closes it otherwise."""
        return self.session.kept_registry(self.env)

    def assemble_all(self, plan: SplitPlan, metadata: Mapping[str, Any] | None) -> int:
        """Each target's tags written from this run's confirmed digests, then verified."""
        sources = {v.name: self.source(v) for v in plan.variants}

        def recheck(variants: Sequence[Variant]) -> list[tuple[Variant, str]]:
            meta = {v.name: {"containerimage.digest": self.confirmed[v.name]} for v in variants}
            return self.confirm(variants, plan.by_digest, 0, meta)

        finish = Finish(
            self.session,
            self.env,
            self.defn,
            plan,
            sources,
            self._started,
            recheck,
            self._registry,
            self.wanted(),
        )
        return finish.run(metadata)
