"""`--guard-merge DIR`: assemble and verify every target from the shards' digest files, all or
nothing: every shard's image is read from the registry and checked against its digest file
before any tag is written."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bakeguard.errors import VerificationFailed
from bakeguard.split.assemble import create, split_entry
from bakeguard.split.shards import read_digest_files, wanted

if TYPE_CHECKING:  # (the registry client and verifier load only after the bake)
    from bakeguard.registry.verify import Expectation
    from bakeguard.session import Session

Shard = tuple[Path, dict[str, Any]]  # a digest file and what it says


def merge(session: Session) -> int:
    """--guard-merge DIR: assemble and verify every target from the shards' digest files."""
    from bakeguard.registry.verify import Expectation

    where = Path(session.opts.merge or ".")
    by_target = read_digest_files(where, session.log)
    session.record["mode"] = "merge"
    chosen = {
        t: list({d["platform"]: (f, d) for f, d in found}.values())
        for t, found in by_target.items()
    }
    missing = []
    for target, shards in sorted(chosen.items()):
        have = {d["platform"] for _f, d in shards}
        lost = [p for p in shards[0][1]["platforms"] if p not in have]
        if lost:
            missing.append(f"{target}: {', '.join(lost)}")
    # (--guard-verify=false: bakeguard reads nothing from the registry; imagetools still
    # refuses a source that is gone)
    shards = [s for _t, found in sorted(chosen.items()) for s in found]
    wrong = check_sources(session, shards) if session.opts.verify else []
    if missing or wrong:
        if missing:
            session.log.error("no shard pushed: " + "; ".join(missing))
        for line in wrong:
            session.log.error(line)
        session.close_kept_registry()
        raise VerificationFailed(
            "merge refused: nothing was written, every tag is untouched (see above)",
            "re-run the shard job of each platform named above (bakeguard --push "
            "--guard-shard PLATFORM --guard-digests DIR), copy its digest file here, then "
            "merge again",
        )
    exps: list[Expectation] = []
    for target, shards in sorted(chosen.items()):
        want = shards[0][1]["platforms"]
        ordered = [d for _f, d in sorted(shards, key=lambda s: want.index(s[1]["platform"]))]
        first = ordered[0]
        writer, digest = create(
            session,
            target,
            first["refs"],
            first["annotations"],
            [d["source"] for d in ordered],
            None,
            lambda: session.kept_registry(None),
        )
        pairs = [(d["platform"], d["source"]) for d in ordered]
        session.record.setdefault("split", []).append(
            split_entry(target, first["refs"], pairs, None, writer)
        )
        session.log.info(f"assembled {', '.join(first['refs'])} from {len(ordered)} shards")
        attest = wanted(ordered)
        exps += [Expectation(target, ref, tuple(want), digest, attest) for ref in first["refs"]]
    outcomes = session.verify(exps, None) if session.opts.verify else []
    session.close_kept_registry()  # when not handed to verification
    if not all(o.ok for o in outcomes):
        raise VerificationFailed(
            "merge incomplete (see above)", "re-run the failed shards, then merge again"
        )
    return 0


def check_sources(session: Session, shards: Sequence[Shard]) -> list[str]:
    """Each shard's image read from the registry by its digest, as `imagetools create` would
    take it: it must be there, whole, and hold exactly its digest file's `platform` (a file
    naming another platform's image would otherwise make an index that lacks a platform and
    holds another twice). One line per file that is wrong, naming the shard job to re-run."""
    from bakeguard.registry.verify import Expectation, Verifier

    exps = [
        Expectation(d["target"], d["source"], (d["platform"],), d["source"].rpartition("@")[2])
        for _f, d in shards
    ]
    outcomes = Verifier(session.kept_registry(None), lag_ok=False).run(exps)
    lines = []
    for (f, d), o in zip(shards, outcomes, strict=True):
        image = f"its image {d['source']}"
        if o.status == 404:
            what = f"{image} is not in the registry (deleted since the shard pushed it?)"
        elif o.error is not None:
            what = f"{image} could not be read: {o.error}"
        elif list(o.found) != [d["platform"]]:
            what = f"{image} holds {', '.join(o.found) or 'no platform'}, not {d['platform']}"
        elif o.missing_children:
            what = f"{image} names manifests the registry lacks: {', '.join(o.missing_children)}"
        else:  # (a body not hashing to its digest is an error above: wire checks it)
            continue
        lines.append(
            f"{f}: {what}; re-run the shard job for {d['platform']} of target {d['target']}"
        )
    return lines
