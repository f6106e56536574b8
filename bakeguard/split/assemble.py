"""The split's last step: `docker buildx imagetools create` composes each target's index from
its per-platform digests, and bakeguard (or imagetools) writes it to every tag at once."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bakeguard.definition import Target
from bakeguard.docker import Docker, Fed, Result
from bakeguard.errors import BakeguardError
from bakeguard.refs import Reference
from bakeguard.retry import first_then_retrying
from bakeguard.split.plan import SplitPlan, Variant, index_annotations, repo_of

if TYPE_CHECKING:  # (the registry client and verifier load only after the bake)
    from bakeguard.session import Session

# What a failed `imagetools create` says when trying again may help. Whole words only: the
# digests in its output are hex, and one holding "500" or "429" is not an HTTP status.
TRANSIENT = re.compile(
    r"\b(429|500|502|503|504|eof)\b|too many requests|service unavailable|connection reset|"
    r"connection refused|timeout",
    re.I,
)


# What `imagetools create` logs as it writes a tag (plain progress, its stderr when captured).
PUSHED = re.compile(r"pushing (sha256:[0-9a-f]{64}) to ")


class Transient(BakeguardError):
    pass


class Stopped(BakeguardError):
    """The assembly was stopped (a Ctrl-C): no command or write starts after it."""


class Helpers:
    """What one split's assembly has under way, so that a Ctrl-C stops it at once: its
    `imagetools create` processes are killed, no attempt or write starts after it, and
    `writing` names the targets whose tags a write may have reached (the others' are as
    they were)."""

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self.writing: set[str] = set()
        self._live: set[subprocess.Popen[str]] = set()
        self._lock = threading.Lock()

    def check(self) -> None:
        if self.stopped.is_set():
            raise Stopped("interrupted")

    def _wait(self, proc: subprocess.Popen[str] | Result, wait: Callable[[], Result]) -> Result:
        if isinstance(proc, Result):
            return proc
        with self._lock:
            self._live.add(proc)
        try:
            if self.stopped.is_set():  # stopped while it started: `stop` did not see it
                proc.kill()
            return wait()
        except BaseException:  # (a signal in this thread): it must not write afterwards
            _kill(proc)
            raise
        finally:
            with self._lock:
                self._live.discard(proc)

    def run(self, docker: Docker, args: Sequence[str], timeout: float) -> Result:
        self.check()
        proc = docker.start(args)
        return self._wait(proc, lambda: docker.collect(proc, timeout))

    def feed(self, fed: Fed, sources: Sequence[str]) -> Result:
        self.check()
        return self._wait(fed.proc, lambda: fed.feed(sources))

    def write(self, target: str) -> None:
        """A write of target's tags starts now (unless stopped)."""
        self.check()
        self.writing.add(target)

    def stop(self) -> None:
        self.stopped.set()
        with self._lock:
            live = list(self._live)
        for proc in live:
            _kill(proc)


def _kill(proc: subprocess.Popen[str]) -> None:
    """Kill a helper and reap it (gone before bakeguard exits)."""
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait(timeout=5)


def compose_only(refs: Sequence[str], sources: Sequence[str]) -> bool:
    """Every tag is in the one repository all the sources are in. `imagetools create` would
    then copy each source manifest into the repository it is already in (per manifest a
    referrers lookup, a GET and HEADs, a cached split's largest cost), so it only composes the index
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
    platform is pushed (Go's start-up and the command's setup then overlap bake).
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
    helpers: Helpers | None = None,
) -> tuple[str, str | None]:
    """`docker buildx imagetools create` for one target: all its tags at once, retried on
    transient registry errors (4 attempts, 0.5, 1 and 2 s apart). The first attempt is
    `started` (see `prestart_create`) when given. When `compose_only` and a `registry` client
    is given, imagetools composes the index and bakeguard writes it to the tags; a registry
    that refuses bakeguard's write (credentials it cannot use, say) gets imagetools' own.
    Returns who wrote the tags ("bakeguard" or "imagetools"), and the digest of the index
    written: what verification expects at the tags (None when imagetools did not say)."""
    import hashlib  # (after the bake: not on a fast path's way to starting it)

    docker, log = session.docker, session.log
    helpers = helpers or Helpers()
    direct = registry is not None and compose_only(refs, sources)
    written: str | None = None  # the digest of the index written
    composed: bytes | None = None  # what `--dry-run` printed, when it ran

    def run(dry_run: bool) -> str:
        nonlocal started, written, composed
        fed, started = started, None  # the first attempt's only
        if not dry_run:
            helpers.write(target)
        if fed is not None and fed[1] == dry_run:
            res = helpers.feed(fed[0], sources)
        else:
            if fed is not None:
                fed[0].cancel()
            args = imagetools_args(session, refs, annotations, sources, dry_run)
            res = helpers.run(docker, args, timeout=300)
        if res.ok:
            if dry_run:
                composed = res.stdout.removesuffix("\n").encode()
            else:
                said = PUSHED.search(res.stderr)
                written = said.group(1) if said else None
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
        nonlocal direct, written, composed
        if not direct:
            run(False)
            return
        run(True)
        index = composed or b""
        from bakeguard.registry import RegistryError, Unreachable

        assert registry is not None
        try:
            media_type = str(json.loads(index)["mediaType"])
            reg = registry()
            reg.start()  # a budget of its own: not what an earlier target's writes spent
            for ref in refs:
                helpers.write(target)
                reg.put_manifest(Reference.parse(ref), index, media_type)
            written = "sha256:" + hashlib.sha256(index).hexdigest()
            return
        except RegistryError as e:
            if e.transient and not isinstance(e, Unreachable):
                log.warning(f"writing the index failed, retrying: {e}")
                raise Transient(str(e)) from e
            why = f"bakeguard could not write the index itself ({e})"
        except (ValueError, KeyError, TypeError) as e:
            why = f"unexpected `imagetools create --dry-run` output ({e})"
            composed = None  # (not an index: its hash is no digest to expect)
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
    if written is None:  # imagetools wrote and did not say what: its composition says
        with contextlib.suppress(BakeguardError):
            if composed is None:
                run(True)
            written = "sha256:" + hashlib.sha256(composed or b"").hexdigest()
    return ("bakeguard" if direct else "imagetools"), written


def split_entry(
    name: str,
    refs: Sequence[str],
    sources: Sequence[tuple[str, str]],
    by_digest: bool | None,
    writer: str,
    tags: Sequence[Sequence[str]] = (),
) -> dict[str, Any]:
    """The report's record of one assembled target; `sources`: each platform and the image
    its tags were made from (repo@digest). `platform_sources` pairs them and names each
    source's digest: the platform's manifest, or with attestations the per-platform index
    that holds it (the older `platforms` and `sources` lists stay, in the same order), and
    the per-platform tags the docker driver leaves in the registry (`tags`, in that order).
    `by_digest` None: not known (a merge reads digest files, which do not say)."""
    return {
        "target": name,
        "platforms": [p for p, _ in sources],
        "sources": [s for _, s in sources],
        "platform_sources": [
            {
                "platform": p,
                "source": s,
                "digest": s.rpartition("@")[2],
                **({"tags": list(tags[i])} if i < len(tags) else {}),
            }
            for i, (p, s) in enumerate(sources)
        ],
        "refs": list(refs),
        "by_digest": by_digest,
        "index_written_by": writer,
    }


def assembled(
    session: Session,
    t: Target,
    variants: Sequence[Variant],
    sources: Sequence[str],
    by_digest: bool,
    writer: str,
) -> None:
    """Target t's tags are written (by `writer`, from `sources`): in the report, and in the
    log's detail (--guard-verbose); `summary` says it for the whole split."""
    pairs = [(v.platform, s) for v, s in zip(variants, sources, strict=True)]
    tags = [list(v.tags) for v in variants]
    entry = split_entry(t.name, t.tag_refs, pairs, by_digest, writer, tags)
    session.record["split"].append(entry)
    kept = "" if by_digest else f"; per-platform tags {', '.join(x for ts in tags for x in ts)}"
    session.log.debug(
        f"assembled {', '.join(t.tag_refs)} from {len(variants)} platforms "
        f"({', '.join(v.platform for v in variants)}){kept}"
    )


def write_user_metadata(
    path: str | None,
    plan: SplitPlan,
    metadata: Mapping[str, Any] | None,
    outcomes: Sequence[Any],
) -> None:
    """The user's --metadata-file after a split: bake's keys under the user's own target
    names, with the digest of the index this run wrote (not what the tag holds when another
    push wrote it since: see `Outcome.another_push`)."""
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
            ours = o.expected_digest or o.digest
            entry["containerimage.digest"] = ours
            entry["containerimage.descriptor"] = {"mediaType": o.media_type, "digest": ours}
        refs = [
            (metadata or {}).get(v.name, {}).get("buildx.build.ref")
            for v in plan.variants
            if v.target == name
        ]
        if any(refs):
            entry["buildx.build.ref"] = next(r for r in refs if r)
        out[name] = entry
    Path(path).write_text(json.dumps(out, indent=2))
