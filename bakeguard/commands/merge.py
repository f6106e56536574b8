"""`--guard-merge DIR`: assemble and verify every target from the shards' digest files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bakeguard.errors import VerificationFailed
from bakeguard.split.assemble import create, split_entry
from bakeguard.split.shards import read_digest_files, wanted

if TYPE_CHECKING:  # (the registry client and verifier load only after the bake)
    from bakeguard.registry.verify import Expectation
    from bakeguard.session import Session


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
        writer, digest = create(
            session,
            target,
            docs[0]["refs"],
            docs[0]["annotations"],
            sources,
            None,
            lambda: session.kept_registry(None),
        )
        pairs = [(d["platform"], d["source"]) for d in ordered]
        session.record.setdefault("split", []).append(
            split_entry(target, docs[0]["refs"], pairs, None, writer)
        )
        session.log.info(f"assembled {', '.join(docs[0]['refs'])} from {len(docs)} shards")
        attest = wanted(docs)
        exps += [Expectation(target, ref, tuple(want), digest, attest) for ref in docs[0]["refs"]]
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
