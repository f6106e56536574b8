"""The Action's run script (bakeguard.action) without the stack: inputs read as
docker/bake-action reads them, bakeguard's arguments, the outputs from a report, and the
outputs file the runner reads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from bakeguard import action
from bakeguard.errors import UsageError
from tests import actionrun

RUN = {
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "o/r",
    "GITHUB_RUN_ID": "42",
    "GITHUB_RUN_ATTEMPT": "2",
}
BUILDER_ID = "builder-id=https://github.com/o/r/actions/runs/42/attempts/2"


@pytest.mark.parametrize(
    ("raw", "ignore_comma", "want"),
    [
        ("", False, []),
        ("a.hcl", False, ["a.hcl"]),
        ("a.hcl, b.hcl\n\n  c.hcl  \n", False, ["a.hcl", "b.hcl", "c.hcl"]),
        ("a,,b,", False, ["a", "b"]),
        ('"x,y",z', False, ["x,y", "z"]),  # a quoted field keeps its comma ...
        ('"x,y"', False, ["x", "y"]),  # ... unless it is the line's only one (as the toolkit)
        # set: one item a line, its commas kept (a platform list stays one value)
        (
            "*.platform=linux/amd64,linux/arm64\napp.tags=r/a:1",
            True,
            [
                "*.platform=linux/amd64,linux/arm64",
                "app.tags=r/a:1",
            ],
        ),
        ('app.args.A="x,y"', True, ['app.args.A="x,y"']),
        ("  \n\t\n", True, []),
    ],
)
def test_lists_are_read_as_bake_action_reads_them(
    raw: str, ignore_comma: bool, want: list[str]
) -> None:
    assert action.input_list(raw, ignore_comma) == want


def test_booleans_are_yaml_core_booleans() -> None:
    assert [action.boolean("push", v) for v in ("true", "True", "TRUE")] == [True] * 3
    assert [action.boolean("push", v) for v in ("false", "False", "FALSE", "")] == [False] * 4
    with pytest.raises(UsageError) as e:
        action.boolean("push", "yes")
    assert "action input push: 'yes' is not a boolean" in e.value.message()
    assert e.value.exit_code == 2


@pytest.mark.parametrize(
    ("raw", "env", "want"),
    [
        ("", RUN, None),
        ("true", RUN, BUILDER_ID),
        ("false", RUN, "false"),
        ("mode=max", RUN, f"mode=max,{BUILDER_ID}"),
        ("mode=max,builder-id=mine", RUN, "mode=max,builder-id=mine"),
        ("true", {}, "true"),  # outside a workflow run: no builder to name
        ("mode=min", {}, "mode=min"),
    ],
)
def test_provenance_as_bake_action_gives_it(raw: str, env: dict[str, str], want: str) -> None:
    assert action.provenance(raw, env) == want


def inputs(**values: str) -> dict[str, str]:
    return {action.env_name(k.replace("_", "-")): v for k, v in values.items()}


def test_arguments_in_bake_actions_order_guards_first(tmp_path: Path) -> None:
    env = {
        **RUN,
        **inputs(
            builder="bg",
            files="a.hcl\nb.hcl",
            workdir=str(tmp_path),
            targets="app, db",
            no_cache="true",
            pull="true",
            load="false",
            provenance="true",
            push="true",
            sbom="true",
            set="*.platform=linux/amd64,linux/arm64",
            guard="strict",
            split="always",
            verify="true",
            compat="r.example:5000=docker-v2\nq.example=oci",
            report="out/r.json",
        ),
    }
    p = action.plan(env, "/tmp/x")
    assert p.argv == [
        "--guard=strict",
        "--guard-split=always",
        "--guard-verify=true",
        "--guard-compat=r.example:5000=docker-v2,q.example=oci",
        f"--guard-report={tmp_path}/out/r.json",
        "--file", "a.hcl", "--file", "b.hcl",
        "--set", "*.platform=linux/amd64,linux/arm64",
        "--metadata-file", "/tmp/x/metadata.json",
        "--provenance", BUILDER_ID,
        "--sbom", "true",
        "--no-cache",
        "--builder", "bg",
        "--pull",
        "--push",
        "app", "db",
    ]  # fmt: skip
    assert p.workdir == str(tmp_path) and p.report == f"{tmp_path}/out/r.json"


def test_empty_inputs_leave_bakeguard_its_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    p = action.plan(inputs(push="false", load="false", workdir="."), "/t")
    assert p.argv == [
        "--guard-report=/t/report.json",
        "--metadata-file",
        "/t/metadata.json",
    ]


@pytest.mark.parametrize(
    ("values", "said"),
    [
        ({"push": "yes"}, "action input push: 'yes' is not a boolean"),
        ({"targets": "app,--print"}, "action input targets: '--print' is not a target name"),
        ({"report": "-"}, "action input report: '-' (stdout)"),
        ({"workdir": "/nonexistent/x"}, "action input workdir: '/nonexistent/x' is not a folder"),
    ],
)
def test_bad_inputs_are_exit_2_with_outputs_saying_nothing_verified(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    values: dict[str, str],
    said: str,
) -> None:
    out = tmp_path / "github_output"
    env = {"GITHUB_OUTPUT": str(out), "RUNNER_TEMP": str(tmp_path), **inputs(**values)}
    assert action.main(env) == 2
    assert said in capsys.readouterr().err
    assert actionrun.parse_outputs(out.read_text()) == {
        "digests": "{}",
        "report": "",
        "verified": "false",
    }


def verification(target: str, ref: str, ok: bool, **plats: str) -> dict[str, Any]:
    return {
        "target": target,
        "ref": ref,
        "ok": ok,
        "platform_manifests": [
            {"platform": p.replace("_", "/"), "digest": d} for p, d in plats.items()
        ],
    }


def test_digests_are_per_target_tag_and_platform() -> None:
    doc = {
        "verification": [
            verification("app", "r/a:1", True, linux_amd64="sha256:1", linux_arm64="sha256:2"),
            verification("app", "r/a:latest", True, linux_amd64="sha256:1"),
            verification("db", "r/d:1", False, linux_amd64="sha256:3"),
            {"target": "x", "ref": 5},  # not a report bakeguard writes: left out
            "junk",
        ]
    }
    assert action.digests(doc) == {
        "app": {
            "r/a:1": {"linux/amd64": "sha256:1", "linux/arm64": "sha256:2"},
            "r/a:latest": {"linux/amd64": "sha256:1"},
        },
        "db": {"r/d:1": {"linux/amd64": "sha256:3"}},
    }
    assert action.digests(None) == {}


def test_verified_needs_every_tag_whole_and_exit_0() -> None:
    whole = {"verification": [verification("a", "r:1", True), verification("a", "r:2", True)]}
    partial = {"verification": [verification("a", "r:1", True), verification("a", "r:2", False)]}
    assert action.verified(whole, 0)
    assert not action.verified(whole, 1)
    assert not action.verified(partial, 3)
    assert not action.verified({"verification": []}, 0)  # nothing pushed: nothing verified
    assert not action.verified(None, 0)


def test_outputs_take_any_value_whole(tmp_path: Path) -> None:
    out = tmp_path / "github_output"
    values = {
        "metadata": '{\n  "app": {}\n}',
        "digests": "x=y\nverified<<EOF\ntrue\nEOF",  # looks like output lines: is data
        "report": "",
        "verified": "false",
    }
    assert action.write_outputs({"GITHUB_OUTPUT": str(out)}, values)
    assert actionrun.parse_outputs(out.read_text()) == values
    text = out.read_text()
    delimiters = [line.split("<<", 1)[1] for line in text.splitlines() if line.startswith("m")]
    assert delimiters[0].startswith("ghadelimiter_") and delimiters[0] not in values["metadata"]


def test_a_delimiter_never_occurs_in_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    ids = iter([uuid.UUID(int=1), uuid.UUID(int=2)])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(ids))
    value = f"line\nghadelimiter_{uuid.UUID(int=1)}\nline"
    assert action.delimiter(value) == f"ghadelimiter_{uuid.UUID(int=2)}"


def test_outputs_from_a_run(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    report.write_text(json.dumps({"verification": [verification("app", "r:1", True, a_b="s:1")]}))
    meta = tmp_path / "m.json"
    meta.write_text('{"app": {"containerimage.digest": "sha256:9"}}')
    p = action.Plan([], str(tmp_path), str(report), str(meta))
    assert action.outputs(p, 0) == {
        "metadata": meta.read_text(),
        "digests": '{"app": {"r:1": {"a/b": "s:1"}}}',
        "report": str(report),
        "verified": "true",
    }
    meta.write_text("null")  # as bake-action: no metadata output
    report.unlink()
    assert action.outputs(p, 3) == {"digests": "{}", "report": "", "verified": "false"}


def start_action(env: dict[str, str], **values: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bakeguard.action"],
        env={**os.environ, **env, **inputs(**values)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("code", [0, 17])
def test_the_step_ends_with_bakeguards_exit_code(
    fake_docker: Path, tmp_path: Path, code: int
) -> None:
    out = tmp_path / "github_output"
    env = {"GITHUB_OUTPUT": str(out), "RUNNER_TEMP": str(tmp_path), "FAKE_DOCKER_EXIT": str(code)}
    p = start_action(env, guard="off", push="true", targets="app", workdir=str(tmp_path))
    assert p.wait(timeout=60) == code, p.communicate()[1]
    bakes = [c for c in calls(fake_docker) if c[:2] == ["buildx", "bake"]]
    assert bakes[-1][-2:] == ["--push", "app"] and "--metadata-file" in bakes[-1]
    got = actionrun.parse_outputs(out.read_text())
    assert got["verified"] == "false" and got["digests"] == "{}"  # nothing read back


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_to_the_step_reaches_bake(
    fake_docker: Path, tmp_path: Path, sig: int, code: int
) -> None:
    """The runner cancelling signals the step's process: bakeguard, and through it bake,
    get the signal, and the step ends as bakeguard does, its outputs written."""
    out = tmp_path / "github_output"
    env = {
        "GITHUB_OUTPUT": str(out),
        "RUNNER_TEMP": str(tmp_path),
        "FAKE_DOCKER_SLEEP": "30",
        "XDG_CACHE_HOME": str(tmp_path),
    }
    p = start_action(env, guard="warn", targets="app", workdir=str(tmp_path))
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "ready"
    p.send_signal(sig)  # to the step's process alone, not its group
    assert p.wait(timeout=20) == code
    assert ["signal", sig] in calls(fake_docker)
    assert actionrun.parse_outputs(out.read_text())["verified"] == "false"


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
