"""The split: every platform pushed on its own in ONE bake run from a definition generated from
`bake --print`, then `docker buildx imagetools create` writes each multi-platform tag once.

Per-platform pushes go by digest (`push-by-digest=true,name-canonical=true`) on drivers that
support it; the `docker` driver refuses that, so it pushes per-platform tags TAG-OS-ARCH[-V]
(`--guard-split-suffix`). On that driver an affected buildx runs a second push through the
engine that may fail after BuildKit's own push succeeded, and then bake writes no metadata.
So each platform is confirmed on its own: the engine's local image (its tag removed before the
build, so only this run can have named it) must be in the registry by digest. The final tags
are written only when every platform of a target is confirmed, from digests, never from the
per-platform tags (a registry may have rewritten those).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from bakeguard import generated
from bakeguard.compat import Compat
from bakeguard.compat import apply as apply_profile
from bakeguard.definition import Definition, Target
from bakeguard.docker import Docker, Fed
from bakeguard.errors import EXIT_VERIFY, BakeguardError, UsageError, VerificationFailed
from bakeguard.platforms import check_split_tags, normalize, suffix
from bakeguard.probe import Environment
from bakeguard.refs import Reference
from bakeguard.report import read_object
from bakeguard.retry import first_then_retrying
from bakeguard.tasks import map_bounded
from bakeguard.terminal import Tail

if TYPE_CHECKING:  # (the registry client and verifier load only after the bake)
    from bakeguard.app import Session
    from bakeguard.registry.verify import Expectation

SHARD_SCHEMA = "bakeguard-digest/1"
BY_DIGEST_DRIVERS = ("remote", "docker-container", "kubernetes")
# From this buildx on, bake on the docker driver no longer pushes a second time through the
# engine (buildx PR #3023), so the per-platform images need not be stored in the engine:
# `store=false` skips naming and unpacking them there (~30 ms a cached push, more with big
# layers) and leaves no intermediate per-platform tags in the user's image list.
NO_ENGINE_PUSH_SINCE = Version("0.22.0")
PUSH_ATTRS = ("type", "name", "push", "push-by-digest", "name-canonical")
# What a failed `imagetools create` says when trying again may help. Whole words only: the
# digests in its output are hex, and one holding "500" or "429" is not an HTTP status.
TRANSIENT = re.compile(
    r"\b(429|500|502|503|504|eof)\b|too many requests|service unavailable|connection reset|"
    r"connection refused|timeout",
    re.I,
)


class Transient(BakeguardError):
    pass


@dataclass(frozen=True)
class Variant:
    target: str  # the original target
    name: str  # the generated target's name
    platform: str
    repos: tuple[str, ...]  # repositories it pushes to (by digest) or the per-platform tags
    tags: tuple[str, ...] = ()  # docker driver: per-platform tags


@dataclass
class Plan:
    definition: dict[str, Any]
    variants: list[Variant]
    split_targets: dict[str, Target]
    other_targets: list[str]
    by_digest: bool


def _csv(attrs: Mapping[str, str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([f"{k}={v}" for k, v in attrs.items()])
    return buf.getvalue()


def repo_of(ref: str) -> str:
    r = Reference.parse(ref)
    return f"{r.registry}/{r.repository}"


def _unique(name: str, taken: set[str]) -> str:
    out, n = name, 2
    while out in taken:
        out, n = f"{name}-{n}", n + 1
    taken.add(out)
    return out


def engine_pushes(env: Environment) -> bool:
    """Whether bake on this builder pushes a second time through the engine (advisory
    docker-driver-double-push), whose failure follows BuildKit's successful push; an
    unknown buildx version may."""
    if env.driver != "docker":
        return False
    return env.buildx.version is None or env.buildx.version < NO_ENGINE_PUSH_SINCE


def plan_outputs(env: Environment) -> tuple[bool, bool]:
    """(push by digest?, store per-platform images in the engine?) for this builder."""
    if env.driver in BY_DIGEST_DRIVERS:
        return True, True
    fixed = env.buildx.version is not None and env.buildx.version >= NO_ENGINE_PUSH_SINCE
    return False, not (env.driver == "docker" and fixed)


def make_plan(
    defn: Definition,
    by_digest: bool,
    suffix_template: str,
    only_platforms: Sequence[str] | None = None,
    split: bool = True,
    compat: Compat | None = None,
    store: bool = True,
) -> Plan:
    """The generated definition: multi-platform pushing targets split per platform (when
    `split`), every pushing target with its registry's compatibility profile applied."""
    compat = compat or Compat()
    targets: dict[str, Any] = {}
    variants: list[Variant] = []
    split_targets: dict[str, Target] = {}
    others: list[str] = []
    taken = set(defn.targets)
    for t in defn.targets.values():
        profile = compat.for_target(t) if t.pushes else None
        if not (split and t.pushes and len(t.platforms) > 1 and t.tag_refs):
            if only_platforms is None:
                targets[t.name] = apply_profile(t.raw, profile)
                others.append(t.name)
            continue
        split_targets[t.name] = t
        if not by_digest:  # per-platform tags: each must be one of its own, and valid
            check_split_tags(suffix_template, t.name, t.tag_refs[0], t.platforms)
        pushing = [o for o in t.outputs if o.pushes]
        extra = {k: v for k, v in pushing[0].attrs.items() if k not in PUSH_ATTRS}
        if profile == "docker-v2":
            extra["oci-mediatypes"] = "false"
        for plat in t.platforms:
            if only_platforms is not None and normalize(plat) not in only_platforms:
                continue
            sfx = suffix(plat, suffix_template)
            # bake allows only [a-zA-Z0-9_-] in a target's name; a tag allows '.' too
            name = _unique(re.sub(r"[^a-zA-Z0-9_-]", "-", f"{t.name}{sfx}"), taken)
            raw = {
                k: v
                for k, v in apply_profile(t.raw, profile).items()
                if k not in ("output", "tags", "platforms")
            }
            raw["platforms"] = [plat]
            repos = tuple(dict.fromkeys(repo_of(r) for r in t.tag_refs))
            if by_digest:
                attrs = {
                    "type": "image",
                    "name": ",".join(repos),
                    "push-by-digest": "true",
                    "name-canonical": "true",
                    "push": "true",
                    **extra,
                }
                raw["output"] = [_csv(attrs)]
                variants.append(Variant(t.name, name, normalize(plat), repos))
            else:
                tag = f"{t.tag_refs[0]}{sfx}"
                raw["tags"] = [tag]
                attrs = {"type": "image", "push": "true", **extra}
                if not store:
                    attrs.setdefault("store", "false")
                raw["output"] = [_csv(attrs)]
                variants.append(Variant(t.name, name, normalize(plat), (repo_of(tag),), (tag,)))
            targets[name] = raw
    gen = {"group": {"default": {"targets": list(targets)}}, "target": targets}
    return Plan(gen, variants, split_targets, others, by_digest)


def index_annotations(t: Target) -> list[str]:
    out = []
    for a in t.raw.get("annotations") or []:
        key = str(a).split("=", 1)[0]
        if key.startswith("index") and ":" in key:
            out.append(str(a))
    return out


@dataclass
class Split:
    session: Session
    env: Environment
    defn: Definition
    only_platforms: Sequence[str] | None = None
    shard_dir: str | None = None
    split: bool = True
    compat: Compat = field(default_factory=Compat)
    confirmed: dict[str, str] = field(default_factory=dict)  # variant name -> digest
    # target -> its imagetools create, and whether it only composes (see prestart_create)
    _started: dict[str, tuple[Fed, bool]] = field(default_factory=dict)

    @property
    def docker(self) -> Docker:
        return self.session.docker

    def plan(self) -> Plan:
        by_digest, store = plan_outputs(self.env)
        return make_plan(
            self.defn,
            by_digest,
            self.session.opts.split_suffix,
            self.only_platforms,
            self.split,
            self.compat,
            store,
        )

    def bake(
        self,
        gen_file: str,
        meta: str,
        targets: Sequence[str],
        seen: Tail,
        started: Callable[[], None] | None = None,
    ) -> int:
        return generated.bake(
            self.docker, self.session.bake, gen_file, meta, targets, seen, started
        )

    def run(self, plan: Plan | None = None) -> int:
        plan = plan or self.plan()
        tmp = tempfile.mkdtemp(prefix="bakeguard-split-")

        def started() -> None:  # once bake runs: what is needed after it
            self.prestart(plan)
            if self.session.opts.verify:
                from bakeguard.fastpath import preload_verification

                threading.Thread(target=preload_verification, daemon=True).start()

        try:
            gen, meta = generated.write(tmp, plan.definition)
            seen = Tail()
            code = self.bake(gen, meta, list(plan.definition["target"]), seen, started)
        except BaseException:
            self.cancel_started()
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return self.after_bake(plan, tmp, code, seen)

    def prestart(self, plan: Plan) -> None:
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

    def after_bake(self, plan: Plan, tmp: str, code: int, seen: Tail) -> int:
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
                if self.session.rejection is not None:
                    self.session.retry_failed(seen.text())
                retry = self.session.compat_retry(seen.text(), self.defn)
                if retry is not None:
                    with_profile = Split(
                        self.session,
                        self.env,
                        self.defn,
                        self.only_platforms,
                        self.shard_dir,
                        self.split,
                        self.compat.merged(retry),
                    )
                    return self.session.retrying(with_profile.run)
                if not plan.variants:
                    if self.only_platforms is None:
                        self.session.report_tags(self.defn, self.env)
                    return code
            if failed:
                # Per-platform pushes of a shared layer upload the same blob at once; some
                # registries lose that race ("provided digest did not match uploaded content").
                # From cache, with the blob now in place, a second try is cheap.
                again = [v for v, _ in failed]
                plats = ", ".join(v.platform for v in again)
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
                code2 = self.bake(gen, meta2, [v.name for v in again], Tail())
                metadata = {**(metadata or {}), **(read_object(meta2) or {})}
                failed = self.confirm(
                    again, plan.by_digest, code2, read_object(meta2), local_fresh=True
                )
                if not failed:
                    code = code2
            if failed:
                self.unconfirmed(failed)
                if self.only_platforms is None:
                    # bakeguard wrote none of the final tags: whatever they hold, they held
                    unwritten = [r for t in plan.split_targets.values() for r in t.tag_refs]
                    self.session.report_tags(self.defn, self.env, unwritten)
                return code or EXIT_VERIFY
            if self.only_platforms is not None:
                if code != 0 and not plan.by_digest:
                    log.warning(f"bake exited {code}; every platform is confirmed by digest")
                return self.write_shard(plan, self.shard_dir or ".")
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
            return self.finish(plan, metadata)
        finally:
            self.cancel_started()  # not assembled (bake failed, a platform is missing, ...)
            shutil.rmtree(tmp, ignore_errors=True)
            self.session.close_kept_registry()  # when not handed to verification

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
        """Drop the engine's local per-platform tags so that only this run can name them."""
        tags = [t for v in variants for t in v.tags]
        if tags:
            self.docker.capture(["image", "rm", *tags], timeout=60)

    def confirm(
        self,
        variants: Sequence[Variant],
        by_digest: bool,
        code: int,
        metadata: Mapping[str, Any] | None,
        local_fresh: bool = False,
    ) -> list[tuple[Variant, str]]:
        """The variants whose push is NOT in the registry, with why. After a failed bake on the
        docker driver, the engine's local images count only when `local_fresh` (their tags
        were removed before that bake)."""
        if not variants:
            return []
        from bakeguard.registry import RegistryError

        def one(v: Variant) -> tuple[Variant, str | None, str]:
            if code == 0 and metadata and v.name in metadata:
                # bake succeeded: its metadata names what it pushed
                digest = str(metadata[v.name].get("containerimage.digest", ""))
            elif by_digest or code == 0 or not local_fresh:
                return v, None, f"bake exited {code}"
            else:
                # docker driver, bake failed (maybe only in the engine's second push): the
                # engine's local image, named by this run (the tag was removed before it)
                res = self.docker.capture(["image", "inspect", "--format", "{{.Id}}", v.tags[0]])
                digest = res.stdout.strip()
                if not res.ok or not digest.startswith("sha256:"):
                    return v, None, f"the build did not produce {v.tags[0]} (bake exited {code})"
            try:
                if not reg.has_manifest(Reference.parse(v.repos[0]), digest):
                    return v, None, f"{v.repos[0]}@{digest} is not in the registry"
            except RegistryError as e:
                return v, None, str(e)
            return v, digest, ""

        reg = self._registry()
        results = map_bounded(one, variants, 8)
        failed = []
        for v, digest, why in results:
            if digest:
                self.confirmed[v.name] = digest
            else:
                failed.append((v, why))
        return failed

    def source(self, v: Variant) -> str:
        """The confirmed per-platform image, by digest: what the final tags are made from
        (never the per-platform tag, which a registry may have rewritten)."""
        return f"{v.repos[0]}@{self.confirmed[v.name]}"

    def _registry(self) -> Any:
        """The run's registry client (its import is ~30 ms of CPU: made after the bake, not
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

    def write_shard(self, plan: Plan, where: str) -> int:
        """--guard-shard: one small JSON file per pushed platform, for --guard-merge."""
        os.makedirs(where, exist_ok=True)
        for v in plan.variants:
            t = plan.split_targets[v.target]
            doc = {
                "schema": SHARD_SCHEMA,
                "target": v.target,
                "platform": v.platform,
                "platforms": list(t.normalized_platforms),
                "source": self.source(v),
                "refs": list(t.tag_refs),
                "annotations": index_annotations(t),
            }
            name = f"{v.target}{suffix(v.platform, '-{os}-{arch}{variant}')}.json"
            Path(where, name).write_text(json.dumps(doc, indent=2))
            self.session.log.info(f"shard: {v.target} {v.platform} -> {doc['source']}")
        return 0

    def finish(self, plan: Plan, metadata: Mapping[str, Any] | None) -> int:
        log = self.session.log
        by_target: dict[str, list[Variant]] = {}
        for v in plan.variants:
            by_target.setdefault(v.target, []).append(v)
        # while imagetools runs: verification's module and a connection to each registry
        warming = threading.Thread(target=self._warm, args=(plan,), daemon=True)
        warming.start()
        for n, (name, vs) in enumerate(by_target.items()):
            t = plan.split_targets[name]
            try:
                writer = self.assemble(t, vs, plan.by_digest)
            except BakeguardError:
                # the targets before this one have their tags: say what each tag holds
                warming.join()
                later = list(by_target)[n + 1 :]
                unwritten = [r for x in later for r in plan.split_targets[x].tag_refs]
                self.session.report_tags(self.defn, self.env, unwritten)
                raise
            self.session.record["split"].append(
                {
                    "target": name,
                    "platforms": [v.platform for v in vs],
                    "sources": [self.source(v) for v in vs],
                    "refs": list(t.tag_refs),
                    "by_digest": plan.by_digest,
                    "index_written_by": writer,
                }
            )
            if not plan.by_digest:
                kept = ", ".join(t for v in vs for t in v.tags)
                log.info(
                    f"per-platform tags stay in the registry: {kept} "
                    "(the docker driver cannot push by digest)"
                )
            log.info(
                f"assembled {', '.join(t.tag_refs)} from {len(vs)} platforms "
                f"({', '.join(v.platform for v in vs)})"
            )
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
        self.write_user_metadata(plan, metadata, outcomes)
        if not all(o.ok for o in outcomes):
            raise VerificationFailed(
                "verification failed after the split (see the table above)",
                advice(outcomes, suggest_split=False),
            )
        return 0

    def _warm(self, plan: Plan) -> None:
        if not self.session.opts.verify:
            return
        import bakeguard.registry.verify  # noqa: F401

        self._registry().connect(r for t in plan.split_targets.values() for r in t.tag_refs)

    def write_user_metadata(
        self, plan: Plan, metadata: Mapping[str, Any] | None, outcomes: Sequence[Any]
    ) -> None:
        path = self.session.bake.last("--metadata-file")
        if not path:
            return
        out: dict[str, Any] = {
            n: (metadata or {}).get(n)
            for n in plan.other_targets
            if (metadata or {}).get(n) is not None
        }
        digests = {o.target: o for o in outcomes if o.digest}
        for name, t in plan.split_targets.items():
            o = digests.get(name)
            entry: dict[str, Any] = {"image.name": ",".join(t.tag_refs)}
            if o is not None:
                entry["containerimage.digest"] = o.digest
                entry["containerimage.descriptor"] = {"mediaType": o.media_type, "digest": o.digest}
            refs = [
                (metadata or {}).get(v.name, {}).get("buildx.build.ref")
                for v in plan.variants
                if v.target == name
            ]
            if any(refs):
                entry["buildx.build.ref"] = next(r for r in refs if r)
            out[name] = entry
        Path(path).write_text(json.dumps(out, indent=2))


def compose_only(refs: Sequence[str], sources: Sequence[str]) -> bool:
    """Every tag is in the one repository all the sources are in. `imagetools create` would
    then copy each source manifest into the repository it is already in (per manifest a
    referrers lookup, a GET and HEADs: ~30 ms of a cached split), so it only composes the index
    (`--dry-run` prints the very bytes it would push) and bakeguard writes them to the tags as
    containerd's pusher would (`registry.put_manifest`)."""
    return len({repo_of(r) for r in (*refs, *sources)}) == 1


def imagetools_args(
    session: Session,
    refs: Sequence[str],
    annotations: Sequence[str],
    sources: Sequence[str],
    dry_run: bool = False,
) -> list[str]:
    args = ["buildx", "imagetools", "create", *(["--dry-run"] if dry_run else [])]
    if session.bake.last("--builder"):
        args += ["--builder", str(session.bake.last("--builder"))]
    for tag in refs:
        args += ["-t", tag]
    for a in annotations:
        args += ["--annotation", a]
    return [*args, *sources]


def prestart_create(session: Session, t: Target, repos: Sequence[str]) -> tuple[Fed, bool] | None:
    """`imagetools create` for target t (the sources in `repos`, one per platform), started
    while bake runs: it reads its sources (`-f FILE`: a file holding a reference is read as
    that reference) from pipes before it does anything else, and they are written once every
    platform is pushed (Go's start-up and the command's setup, ~20 ms, then overlap bake).
    Given no sources it fails without touching the registry. Second: whether it only composes
    (`compose_only`)."""
    refs, annotations = t.tag_refs, index_annotations(t)
    dry_run = compose_only(refs, repos)
    fed = session.docker.start_fed(
        lambda files: imagetools_args(
            session, refs, annotations, [x for f in files for x in ("-f", f)], dry_run
        ),
        len(repos),
    )
    return None if fed is None else (fed, dry_run)


def create(
    session: Session,
    target: str,
    refs: Sequence[str],
    annotations: Sequence[str],
    sources: Sequence[str],
    started: tuple[Fed, bool] | None = None,
    registry: Callable[[], Any] | None = None,
) -> str:
    """`docker buildx imagetools create` for one target: all its tags at once, retried on
    transient registry errors (4 attempts, 0.5, 1 and 2 s apart). The first attempt is
    `started` (see `prestart_create`) when given. When `compose_only` and a `registry` client
    is given, imagetools composes the index and bakeguard writes it to the tags; a registry
    that refuses bakeguard's write (credentials it cannot use, say) gets imagetools' own.
    Returns who wrote the tags: "bakeguard" or "imagetools"."""
    docker, log = session.docker, session.log
    direct = registry is not None and compose_only(refs, sources)

    def run(dry_run: bool) -> str:
        nonlocal started
        fed, started = started, None  # the first attempt's only
        if fed is not None and fed[1] == dry_run:
            res = fed[0].feed(sources)
        else:
            if fed is not None:
                fed[0].cancel()
            res = docker.capture(
                imagetools_args(session, refs, annotations, sources, dry_run), timeout=300
            )
        if res.ok:
            return res.stdout
        text = res.stderr.strip()
        failed = (
            f"imagetools create for target {target} failed: {text[-1500:]}",
            "check the registry; the per-platform images are pushed, re-run to assemble",
        )
        if TRANSIENT.search(text):
            log.warning(f"imagetools create failed, retrying: {text[-300:]}")
            raise Transient(*failed)  # what the last attempt says if none succeeds
        raise BakeguardError(*failed)

    def attempt() -> None:
        nonlocal direct
        if not direct:
            run(False)
            return
        index = run(True).removesuffix("\n").encode()
        from bakeguard.registry import RegistryError, Unreachable

        assert registry is not None
        try:
            media_type = str(json.loads(index)["mediaType"])
            reg = registry()
            for ref in refs:
                reg.put_manifest(Reference.parse(ref), index, media_type)
            return
        except RegistryError as e:
            if e.transient and not isinstance(e, Unreachable):
                log.warning(f"writing the index failed, retrying: {e}")
                raise Transient(str(e)) from e
            why = f"bakeguard could not write the index itself ({e})"
        except (ValueError, KeyError, TypeError) as e:
            why = f"unexpected `imagetools create --dry-run` output ({e})"
        log.info(f"{why}; imagetools create writes it")
        direct = False
        run(False)

    def transient(e: BaseException) -> bool:
        return isinstance(e, Transient)

    def retrying() -> Any:
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

        return Retrying(
            retry=retry_if_exception(transient),
            stop=stop_after_attempt(4),
            wait=wait_exponential(multiplier=0.5, max=8),
            reraise=True,
        )

    first_then_retrying(attempt, transient, retrying)
    return "bakeguard" if direct else "imagetools"


DIGEST_KEYS = {
    "target": "the target's name",
    "platform": "a platform (os/arch[/variant])",
    "platforms": "a list of the target's platforms",
    "source": "the pushed image by digest (NAME@sha256:...)",
    "refs": "a list of the tags to write",
}
_DIGEST_FIX = (
    "re-run that shard (bakeguard --push --guard-shard PLATFORM --guard-digests DIR), "
    "or copy the shard's --guard-digests folder again"
)


def _digest_error(f: Path, what: str) -> UsageError:
    return UsageError(f"--guard-merge: {f}: {what}", _DIGEST_FIX)


def _is_digest_ref(value: str) -> bool:
    name, at, digest = value.partition("@")
    algo, colon, hex_ = digest.partition(":")
    hex_ok = len(hex_) == 64 and all(c in "0123456789abcdef" for c in hex_)
    return bool(name and at and algo == "sha256" and colon and hex_ok)


def read_digest_file(f: Path) -> dict[str, Any] | None:
    """One shard's digest file, checked key by key (None: a JSON object of another kind)."""
    try:
        doc = json.loads(f.read_bytes())
    except OSError as e:
        raise _digest_error(f, f"cannot be read: {e.strerror}") from None
    except ValueError as e:  # (not UTF-8 is a ValueError too)
        raise _digest_error(f, f"is not JSON: {e}") from None
    if not isinstance(doc, dict):
        kind = {list: "a JSON list", type(None): "null"}.get(type(doc), type(doc).__name__)
        raise _digest_error(f, f"is {kind}, not a bakeguard digest file ({SHARD_SCHEMA})")
    schema = doc.get("schema")
    if schema != SHARD_SCHEMA:
        if isinstance(schema, str) and schema.startswith("bakeguard-digest/"):
            raise UsageError(
                f"--guard-merge: {f} is a digest file of schema {schema}, which this "
                f"bakeguard (reading {SHARD_SCHEMA}) does not know",
                "merge with the bakeguard version the shards ran",
            )
        return None
    for key, what in DIGEST_KEYS.items():
        value = doc.get(key)
        if key not in doc:
            raise _digest_error(f, f"lacks `{key}` ({what})")
        if key in ("platforms", "refs"):
            ok = (
                bool(value)
                and isinstance(value, list)
                and all(isinstance(x, str) and x for x in value)
            )
        elif key == "source":
            ok = isinstance(value, str) and _is_digest_ref(value)
        else:
            ok = isinstance(value, str) and bool(value)
        if not ok:
            raise _digest_error(f, f"`{key}` must be {what}, not {json.dumps(value)[:80]}")
    annotations = doc.setdefault("annotations", [])
    if not isinstance(annotations, list) or not all(isinstance(a, str) for a in annotations):
        raise _digest_error(f, f"`annotations` must be a list of strings, not {annotations!r}")
    doc["platform"] = normalize(doc["platform"])
    doc["platforms"] = list(dict.fromkeys(normalize(p) for p in doc["platforms"]))
    if doc["platform"] not in doc["platforms"]:
        raise _digest_error(
            f, f"`platform` {doc['platform']} is not one of `platforms` {doc['platforms']}"
        )
    return doc


def read_digest_files(where: Path, log: Any) -> dict[str, list[tuple[Path, dict[str, Any]]]]:
    """Every shard's digest file in `where`, by target; checked whole before anything is
    assembled (a file that cannot be what a shard wrote stops the merge: exit 2)."""
    if not where.is_dir():
        raise UsageError(
            f"--guard-merge: {where} is not a folder",
            "give the folder holding the shards' --guard-digests files",
        )
    files = sorted(where.glob("*.json"))
    by_target: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    other: list[str] = []
    for f in files:
        doc = read_digest_file(f)
        if doc is None:
            other.append(f.name)
        else:
            by_target.setdefault(doc["target"], []).append((f, doc))
    if not by_target:
        others = f"; its JSON files ({', '.join(other[:5])}) are not" if other else ""
        raise UsageError(
            f"--guard-merge: no bakeguard digest file (JSON with schema {SHARD_SCHEMA}) in "
            f"{where}{others}",
            "copy every shard's --guard-digests folder there first "
            "(bakeguard --push --guard-shard PLATFORM --guard-digests DIR writes them)",
        )
    if other:
        log.warning(
            f"--guard-merge: ignoring {', '.join(other)} in {where}: not bakeguard digest "
            f"files (schema {SHARD_SCHEMA})"
        )
    for target, found in by_target.items():
        (f0, d0) = found[0]
        seen: dict[str, tuple[Path, str]] = {}
        for f, d in found:
            for key in ("platforms", "refs", "annotations"):
                if d[key] != d0[key]:
                    raise UsageError(
                        f"--guard-merge: the digest files of target {target} disagree on "
                        f"`{key}`: {f0} has {d0[key]}, {f} has {d[key]}",
                        "re-run every shard of the same commit and arguments, "
                        "then merge their digest files only",
                    )
            first = seen.setdefault(d["platform"], (f, d["source"]))
            if first[1] != d["source"]:
                raise UsageError(
                    f"--guard-merge: two digest files of target {target} push "
                    f"{d['platform']}: {first[0]} ({first[1]}) and {f} ({d['source']})",
                    "keep the digest file of the shard run you want, remove the other",
                )
    return by_target


def merge(session: Session) -> int:
    """--guard-merge DIR: assemble and verify every target from the shards' digest files."""
    from bakeguard.registry.verify import Expectation

    where = Path(session.opts.merge or ".")
    by_target = read_digest_files(where, session.log)
    exps: list[Expectation] = []
    missing: list[str] = []

    for target, found in sorted(by_target.items()):
        docs = list({d["platform"]: d for _f, d in found}.values())  # one per platform
        want = docs[0]["platforms"]
        have = {d["platform"] for d in docs}
        lost = [p for p in want if p not in have]
        if lost:
            missing.append(f"{target}: {', '.join(lost)}")
            continue
        ordered = sorted(docs, key=lambda d: want.index(d["platform"]))
        sources = [d["source"] for d in ordered]
        create(
            session,
            target,
            docs[0]["refs"],
            docs[0]["annotations"],
            sources,
            None,
            lambda: session.kept_registry(None),
        )
        session.log.info(f"assembled {', '.join(docs[0]['refs'])} from {len(docs)} shards")
        exps += [Expectation(target, ref, tuple(want)) for ref in docs[0]["refs"]]
    session.record["mode"] = "merge"
    if missing:
        session.log.error("no shard pushed: " + "; ".join(missing) + " (tags left untouched)")
    outcomes = session.verify(exps, None) if session.opts.verify else []
    session.close_kept_registry()  # when not handed to verification
    if missing or not all(o.ok for o in outcomes):
        raise VerificationFailed(
            "merge incomplete (see above)", "re-run the missing or failed shards, then merge again"
        )
    return 0
