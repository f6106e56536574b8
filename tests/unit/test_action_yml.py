"""action.yml (the repository root's composite action) is valid action metadata, names its
inputs as docker/bake-action does, hands every input to the run script through `env:` only,
and maps every output to what the run script writes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bakeguard import action
from tests import actionrun

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests" / "data" / "action" / "action.schema.json").read_text())

# docker/bake-action's action.yml: these inputs, these defaults (workdir '.', the booleans
# 'false'); `source` (a remote definition) is the one it has that this action does not.
BAKE_ACTION_INPUTS = {
    "builder": None,
    "files": None,
    "workdir": ".",
    "targets": None,
    "no-cache": "false",
    "pull": "false",
    "load": "false",
    "provenance": None,
    "push": "false",
    "sbom": None,
    "set": None,
}
GUARD_INPUTS = ("guard", "split", "verify", "compat", "report")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return actionrun.load(ROOT)


def errors(doc: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return [e.message for e in validator.iter_errors(doc)]


def test_action_yml_is_valid_composite_action_metadata(doc: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert errors(doc) == []
    assert doc["runs"]["using"] == "composite"


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d["outputs"]["digests"].pop("value"),  # an output with no value
        lambda d: d["runs"]["steps"][1].pop("shell"),  # a run step without its shell
        lambda d: d["inputs"]["push"].update(type="boolean"),  # no such key
        lambda d: d["inputs"].update({"9push": d["inputs"]["push"]}),  # not an input id
        lambda d: d["runs"].update(using="node20"),
        lambda d: d.pop("description"),
    ],
)
def test_the_schema_rejects_broken_metadata(doc: dict[str, Any], breakage: Any) -> None:
    broken = copy.deepcopy(doc)
    breakage(broken)
    assert errors(broken)


def test_inputs_are_bake_actions_plus_the_guards(doc: dict[str, Any]) -> None:
    inputs = doc["inputs"]
    assert set(inputs) == set(BAKE_ACTION_INPUTS) | set(GUARD_INPUTS)
    for name, default in BAKE_ACTION_INPUTS.items():
        assert inputs[name].get("default") == default, name
    assert all(spec["required"] is False for spec in inputs.values())
    assert set(inputs) == set(action.INPUTS)  # the run script reads exactly these


def _bake_step(doc: dict[str, Any]) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [s for s in doc["runs"]["steps"] if s.get("id") == "bake"]
    assert len(steps) == 1
    return steps[0]


def test_every_input_reaches_the_run_script_through_env(doc: dict[str, Any]) -> None:
    env = _bake_step(doc)["env"]
    for name in doc["inputs"]:
        assert env.get(action.env_name(name)) == f"${{{{ inputs.{name} }}}}", name
    used = {v for s in doc["runs"]["steps"] for v in (s.get("env") or {}).values()}
    assert {u for u in used if "inputs." in u} == {f"${{{{ inputs.{n} }}}}" for n in doc["inputs"]}


def test_no_run_body_holds_an_expression(doc: dict[str, Any]) -> None:
    # An expression in `run:` is pasted into the script before bash reads it: an input there
    # would be shell code. Inputs go through `env:`, where they stay data.
    for step in doc["runs"]["steps"]:
        assert "${{" not in step["run"] and "inputs." not in step["run"], step.get("name")
        assert step["shell"] == "bash"


def test_every_output_has_the_value_the_run_script_writes(doc: dict[str, Any]) -> None:
    outputs = doc["outputs"]
    assert tuple(outputs) == action.OUTPUTS
    for name, spec in outputs.items():
        assert spec["value"] == f"${{{{ steps.bake.outputs.{name} }}}}"


def test_the_bake_step_runs_the_installed_bakeguard(doc: dict[str, Any]) -> None:
    install, bake = doc["runs"]["steps"]
    assert install["id"] == "install" and '"$GITHUB_ACTION_PATH"' in install["run"]
    assert bake["env"]["BAKEGUARD_ACTION_PYTHON"] == "${{ steps.install.outputs.python }}"
    assert bake["run"].strip() == 'exec "$BAKEGUARD_ACTION_PYTHON" -m bakeguard.action'
