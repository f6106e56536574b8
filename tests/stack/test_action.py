"""The GitHub Action (action.yml) run as the runner runs a composite action (tests/actionrun.py):
bakeguard installed from this checkout into a fresh virtualenv, the bake step's run script on
the real stack, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files read back. Its `digests` output is
compared with what the registry holds, read with the real `imagetools inspect --raw`."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

from tests import actionrun, reports
from tests.front import Front
from tests.helpers import Stack, digest_at, platforms_at, run, unique_repo

ROOT = Path(__file__).resolve().parents[2]


def registry_digests(ref: str, env: Mapping[str, str]) -> dict[str, str]:
    """platform -> manifest digest of a tag, as the registry holds it (attestations left out;
    a tag that is one manifest: its own digest, for the platform of its config)."""
    raw = run(["docker", "buildx", "imagetools", "inspect", "--raw", ref], env)
    assert raw.returncode == 0, raw.stderr
    doc = json.loads(raw.stdout)
    if "manifests" not in doc:
        (platform,) = platforms_at(ref, env)
        digest = digest_at(ref, env)
        assert digest
        return {platform: digest}
    out = {}
    for m in doc["manifests"]:
        p = m.get("platform") or {}
        if p.get("os") == "unknown":
            continue
        out["/".join(filter(None, (p["os"], p["architecture"], p.get("variant"))))] = m["digest"]
    return out


def test_the_action_outputs_each_platforms_digest_as_the_registry_holds_it(
    stack: Stack, project: Path, tmp_path: Path
) -> None:
    repo = unique_repo("action")
    tags = [f"localhost:5000/{repo}/app:v1", f"localhost:5000/{repo}/app:latest"]
    env = actionrun.without_pythonpath(stack.buildx("newest"))
    runner = tmp_path / "runner"
    res = actionrun.run_action(
        ROOT,
        {
            "files": "docker-bake.hcl",
            "targets": "app",
            "push": "true",
            # bake-action's `set`: one value a line, a comma list kept whole (two platforms)
            "set": "\n".join(
                ["app.platform=linux/amd64,linux/arm64", *(f"app.tags={t}" for t in tags)]
            ),
            "report": "bakeguard-report.json",
        },
        env,
        project,
        runner,
    )
    assert res.code == 0, res.stderr[-3000:]
    out = res.outputs
    assert out["verified"] == "true"
    digests = json.loads(out["digests"])
    assert digests == {"app": {t: registry_digests(t, env) for t in tags}}
    assert set(digests["app"][tags[0]]) == {"linux/amd64", "linux/arm64"}
    meta = json.loads(out["metadata"])  # bake's own metadata, as bake-action outputs it
    assert meta["app"]["containerimage.digest"] == digest_at(tags[0], env)
    assert out["report"] == str(project / "bakeguard-report.json")
    assert [o["ref"] for o in reports.load(Path(out["report"]))["verification"]] == tags
    summary = (runner / "step_summary.md").read_text()
    assert f"| `{tags[0]}` | ✅ verified |" in summary


def test_a_failed_verification_is_verified_false_with_bakeguards_exit_code(
    stack: Stack, project: Path, front: Callable[..., Front], tmp_path: Path
) -> None:
    # buildx v0.21.1's second push through the engine leaves an MSR-like registry's tag with
    # its first platform only (buildx#3070); `split: never` keeps bakeguard from avoiding it.
    f = front(msr=True)
    repo = unique_repo("action-msr")
    tag = f"localhost:{f.port}/{repo}/app:v1"
    env = actionrun.without_pythonpath(stack.buildx("v0.21.1", TAG=tag))
    runner = tmp_path / "runner"
    res = actionrun.run_action(ROOT, {"push": "true", "split": "never"}, env, project, runner)
    assert res.code == 3, res.stderr[-3000:]
    assert res.outputs["verified"] == "false"
    held = registry_digests(f"{stack.registry}/{repo}/app:v1", env)  # behind the front
    assert set(held) == {"linux/amd64"}
    assert json.loads(res.outputs["digests"]) == {"app": {tag: held}}
    assert res.outputs["report"].startswith(str(runner))
    assert reports.load(Path(res.outputs["report"]))["exit_code"] == 3
    assert f"::error title=bakeguard: verification failed::{tag}: missing" in res.stdout
    assert f"| `{tag}` | ❌ FAILED |" in (runner / "step_summary.md").read_text()
