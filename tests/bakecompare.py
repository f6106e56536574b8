"""Bake definitions planned offline and compared with what the real `docker buildx bake
--print` resolves: the same targets, and for each its platforms, tags, whether it pushes and
to which names. Two suites, each a folder of definitions with an index of invocations and an
expected.json of what bake printed for each (recorded on the stack):

- tests/data/bake-features: our own small definitions, one bake feature each (the offline
  reading's findings: outputs under --push, target: contexts, compose, variables, ...); always
  run;
- the corpus: real public bake definitions. Their files are third-party and never committed:
  tests/data/bake-corpus-index.json records only each one's repository, commit, paths,
  invocations and any adaptation, and `collect` recreates the folder from the repositories'
  snapshots. It is read from BAKEGUARD_BAKE_CORPUS, else ../shared/bake-corpus next to the
  repository (the project's notes folder); without it the corpus part is skipped.

    python -m tests.bakecompare collect DEST [--mirror DIR]  # files from snapshots (git show)
    python -m tests.bakecompare corpus [--record]    # on the stack: live outcomes and totals
    python -m tests.bakecompare features --record    # re-record expected.json from real bake

Outcomes: identical; refused (the offline reading names what it cannot read); wrong (a plan
that differs from bake's, or a plan where bake fails); bake-fails (both refuse).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bakeguard.bakeargs import parse_bake
from bakeguard.commands.plan import request
from bakeguard.definition import Definition
from bakeguard.hcl import Refusal, read
from tests.helpers import bake

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parent.parent
FEATURES = DATA / "bake-features"
CORPUS_INDEX = DATA / "bake-corpus-index.json"
MIRROR = Path("/work/.mirror")  # where snapshots of public repositories are brought in
NO_CORPUS = (
    "no bake corpus (third-party files, never committed): set BAKEGUARD_BAKE_CORPUS or "
    "place it at ../shared/bake-corpus, made by `python -m tests.bakecompare collect DEST`"
)
OUTCOMES = ("identical", "refused", "wrong", "bake-fails")
# what a plan shows of one target: platforms, tags, pushes, the names it pushes
Summary = dict[str, dict[str, object]]


@dataclass(frozen=True)
class Invocation:
    root: Path
    entry: str
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    refuse: str = ""  # the offline reading must refuse, saying this (bake's answer varies)

    @property
    def id(self) -> str:
        env = " ".join(f"{k}={v}" for k, v in self.env)
        return " ".join(x for x in (self.entry, env, *self.args) if x)


def corpus_dir() -> Path | None:
    """The corpus folder: BAKEGUARD_BAKE_CORPUS, else ../shared/bake-corpus next to the
    repository; None when it is absent."""
    named = os.environ.get("BAKEGUARD_BAKE_CORPUS", "")
    path = Path(named) if named else REPO.parent / "shared" / "bake-corpus"
    return path if path.is_dir() else None


def suites() -> dict[str, tuple[Path, Path]]:
    """Each suite's folder and index: the features always, the corpus when it is present."""
    out = {"features": (FEATURES, FEATURES / "index.json")}
    corpus = corpus_dir()
    if corpus is not None:
        out["corpus"] = (corpus, CORPUS_INDEX)
    return out


def invocations(root: Path, index: Path | None = None) -> list[Invocation]:
    out = []
    for entry in json.loads((index or root / "index.json").read_text()):
        for inv in entry["invocations"]:
            env = tuple(sorted((inv.get("env") or {}).items()))
            out.append(
                Invocation(root, entry["name"], tuple(inv["args"]), env, inv.get("refuse", ""))
            )
    return out


def expected(root: Path) -> dict[str, Summary | str]:
    path = root / "expected.json"
    loaded: dict[str, Summary | str] = json.loads(path.read_text()) if path.exists() else {}
    return loaded


def summary(doc: Mapping[str, object]) -> Summary:
    d = Definition.parse(json.dumps(doc))
    return {
        n: {
            "platforms": list(t.platforms),
            "tags": list(t.tags),
            "push": t.pushes,
            "names": t.push_refs,
        }
        for n, t in sorted(d.targets.items())
    }


def offline(inv: Invocation, environ: Mapping[str, str]) -> Summary | Refusal:
    full = {**environ, **dict(inv.env)}
    try:
        return summary(read(request(parse_bake(inv.args), full), inv.root / inv.entry))
    except Refusal as e:
        return e


def clean(env: Mapping[str, str]) -> dict[str, str]:
    """Only what docker and buildx need: no variable of the caller's reaches the definitions
    (bake reads any environment variable a definition declares)."""
    return {k: env[k] for k in ("PATH", "HOME", "DOCKER_HOST", "DOCKER_CONFIG") if k in env}


def real(inv: Invocation, env: Mapping[str, str]) -> Summary | str:
    """bake's summary, or its error (a str)."""
    res = bake(["--print", *inv.args], {**clean(env), **dict(inv.env)}, inv.root / inv.entry)
    if res.returncode != 0:
        return "bake fails: " + (res.stderr.strip().splitlines() or ["?"])[-1]
    return summary(json.loads(res.stdout))


def outcome(bake_said: Summary | str, ours: Summary | Refusal) -> tuple[str, str]:
    if isinstance(bake_said, str):
        if isinstance(ours, Refusal):
            return "bake-fails", f"{bake_said}; offline: {ours}"
        return "wrong", f"{bake_said}, but the offline plan has {sorted(ours)}"
    if isinstance(ours, Refusal):
        return "refused", str(ours)
    if ours == bake_said:
        return "identical", ""
    diff = [
        f"{n}: bake {bake_said.get(n)} offline {ours.get(n)}"
        for n in sorted(set(bake_said) | set(ours))
        if bake_said.get(n) != ours.get(n)
    ]
    return "wrong", "; ".join(diff)


def tally(results: list[tuple[Invocation, str, str]], out: list[str]) -> dict[str, int]:
    counts = dict.fromkeys(OUTCOMES, 0)
    for inv, what, detail in results:
        counts[what] += 1
        out.append(f"{what:10} {inv.id}" + (f"\n           {detail}" if detail else ""))
    total = sum(counts.values())
    planned = total - counts["bake-fails"]
    share = counts["identical"] / max(planned, 1)
    out.append(
        f"\n{total} invocations of {len({i.entry for i, _, _ in results})} definitions: "
        + ", ".join(f"{counts[o]} {o}" for o in OUTCOMES)
        + f"; identical {counts['identical']}/{planned} = {share:.1%}"
    )
    return counts


def collect(dest: Path, mirror: Path) -> list[str]:
    """Recreate the corpus folder from the index: each definition's files read from its
    repository's snapshot (`git show COMMIT:PATH`, the entry's commit or the path's own in
    `commits`), plus the files the index says were written for it (its adaptation). Returns
    what is missing (empty when all was written)."""
    missing = []
    for entry in json.loads(CORPUS_INDEX.read_text()):
        git = mirror / entry["repository"].replace("/", "+") / "repo"
        folder = dest / entry["name"]
        folder.mkdir(parents=True, exist_ok=True)
        for path in entry["paths"]:
            spec = f"{entry.get('commits', {}).get(path, entry['commit'])}:{path}"
            res = subprocess.run(
                ["git", "--git-dir", str(git), "show", spec], capture_output=True, timeout=60
            )
            if res.returncode != 0:
                missing.append(f"{entry['repository']} {spec}: not in {git}")
                continue
            (folder / Path(path).name).write_bytes(res.stdout)
        for name, text in (entry.get("written") or {}).items():
            (folder / name).write_text(text)
    return missing


def main() -> int:
    from tests.helpers import load_stack

    args = sys.argv[1:]
    if args[:1] == ["collect"] and len(args) >= 2:
        mirror = Path(args[args.index("--mirror") + 1]) if "--mirror" in args else MIRROR
        missing = collect(Path(args[1]), mirror)
        print("\n".join(missing) or f"corpus written to {args[1]}", file=sys.stderr)
        return 1 if missing else 0
    name = next((a for a in args if a in ("corpus", "features")), "corpus")
    found = suites()
    if name not in found:
        print(NO_CORPUS, file=sys.stderr)
        return 1
    stack, why = load_stack()
    if stack is None:
        print(f"the stack is not running: {why}", file=sys.stderr)
        return 1
    env = stack.buildx("newest")
    root, index = found[name]
    invs = invocations(root, index)
    live = {inv.id: real(inv, env) for inv in invs}
    if "--record" in sys.argv:
        (root / "expected.json").write_text(json.dumps(live, indent=1, sort_keys=True) + "\n")
    lines: list[str] = []
    counts = tally([(i, *outcome(live[i.id], offline(i, {}))) for i in invs], lines)
    print("\n".join(lines))
    return 0 if counts["wrong"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
