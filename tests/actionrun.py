"""A composite action run as GitHub's runner runs one, for tests: action.yml's steps in order,
each `run:` as a script file under `bash --noprofile --norc -eo pipefail` (the runner's
`shell: bash`), each with its own GITHUB_OUTPUT file; `env:` values evaluated first; the
action's outputs evaluated from its steps' outputs after the steps, even when one failed
(actions/runner src/Runner.Worker/Handlers/CompositeActionHandler.cs: RunStepsAsync stops at
the first failed step, then ProcessCompositeActionOutputs runs).

Expressions: only `${{ inputs.NAME }}`, `${{ steps.ID.outputs.NAME }}`,
`${{ github.action_path }}` and `${{ runner.temp }}`; anything else fails the test, as does a
step this helper cannot run as the runner would (`uses:`, `if:`, another shell)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class Run:
    code: int  # the first failed step's exit code, 0 when every step passed
    outputs: dict[str, str]  # the action's outputs
    steps: dict[str, dict[str, str]] = field(default_factory=dict)  # each step's outputs
    stdout: str = ""
    stderr: str = ""


def load(action_dir: Path) -> dict[str, Any]:
    doc = yaml.safe_load((action_dir / "action.yml").read_text())
    assert isinstance(doc, dict)
    return doc


def parse_outputs(text: str) -> dict[str, str]:
    """A GITHUB_OUTPUT file as the runner reads it: `name=value` lines and
    `name<<DELIMITER` ... `DELIMITER` blocks; anything else is an error."""
    out: dict[str, str] = {}
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            end = lines.index(delim, i + 1)  # ValueError: an unterminated value
            out[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
        else:
            name, eq, value = line.partition("=")
            assert eq and name, f"not an output line: {line!r}"
            out[name] = value
            i += 1
    return out


def evaluate(text: str, ctx: Mapping[str, Any]) -> str:
    def one(m: re.Match[str]) -> str:
        parts = m.group(1).split(".")
        if parts[0] == "inputs" and len(parts) == 2:
            return str(ctx["inputs"][parts[1]])
        if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
            return str(ctx["steps"].get(parts[1], {}).get(parts[3], ""))
        if parts in (["github", "action_path"], ["runner", "temp"]):
            return str(ctx[parts[0]][parts[1]])
        raise AssertionError(f"expression this helper does not evaluate: {m.group(0)}")

    return EXPRESSION.sub(one, text)


def run_action(
    action_dir: Path,
    inputs: Mapping[str, str],
    env: Mapping[str, str],
    workspace: Path,
    temp: Path,
    timeout: float = 600,
) -> Run:
    """Run the action at action_dir with these inputs (the rest take their defaults)."""
    doc = load(action_dir)
    declared = doc.get("inputs") or {}
    unknown = set(inputs) - set(declared)
    assert not unknown, f"inputs the action does not declare: {unknown}"
    values = {
        n: inputs.get(n, str((spec or {}).get("default", ""))) for n, spec in declared.items()
    }
    temp.mkdir(parents=True, exist_ok=True)
    ctx: dict[str, Any] = {
        "inputs": values,
        "steps": {},
        "github": {"action_path": str(action_dir)},
        "runner": {"temp": str(temp)},
    }
    base = {
        **env,
        "GITHUB_ACTIONS": "true",
        "GITHUB_ACTION_PATH": str(action_dir),
        "GITHUB_WORKSPACE": str(workspace),
        "RUNNER_TEMP": str(temp),
        "GITHUB_STEP_SUMMARY": str(temp / "step_summary.md"),
    }
    result = Run(code=0, outputs={})
    for n, step in enumerate(doc["runs"]["steps"]):
        assert set(step) <= {"name", "id", "shell", "env", "run"}, f"step {n}: {set(step)}"
        assert step["shell"] == "bash"
        script = temp / f"step-{n}.sh"
        script.write_text(step["run"])
        out_file = temp / f"output-{n}"
        out_file.write_text("")
        step_env = {k: evaluate(str(v), ctx) for k, v in (step.get("env") or {}).items()}
        res = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            env={**base, "GITHUB_OUTPUT": str(out_file), **step_env},
            cwd=workspace,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        result.stdout += res.stdout
        result.stderr += res.stderr
        if "id" in step:
            ctx["steps"][step["id"]] = result.steps[step["id"]] = parse_outputs(
                out_file.read_text()
            )
        if res.returncode != 0:
            result.code = res.returncode
            break
    for name, spec in (doc.get("outputs") or {}).items():
        result.outputs[name] = evaluate(str(spec["value"]), ctx)
    return result


def without_pythonpath(env: Mapping[str, str]) -> dict[str, str]:
    """An environment as a runner's: the tests' PYTHONPATH (this checkout) left out, so the
    action runs the bakeguard it installed."""
    return {k: v for k, v in env.items() if k != "PYTHONPATH"}
