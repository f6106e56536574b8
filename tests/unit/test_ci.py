from __future__ import annotations

from pathlib import Path

import pytest

from bakeguard import ci

RECORD = {
    "environment": {"buildx": "0.21.1", "builder": "default", "driver": "docker"},
    "mode": "plain",
    "exit_code": 3,
    "advisories": [{"id": "docker-driver-double-push", "certain": True}],
    "verification": [
        {
            "ref": "r/a:1",
            "ok": False,
            "found": ["linux/amd64"],
            "missing": ["linux/arm64"],
            "digest": "sha256:abc",
        }
    ],
}


@pytest.mark.parametrize(
    ("env", "want"),
    [
        ({"GITHUB_ACTIONS": "true"}, "github"),
        ({"GITLAB_CI": "true"}, "gitlab"),
        ({"CI": "true"}, "other"),
        ({"BUILDKITE": "true"}, "other"),
        ({}, None),
    ],
)
def test_system(env: dict[str, str], want: str | None) -> None:
    assert ci.system(env) == want


def test_github_annotation_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = tmp_path / "summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    ci.annotate("warning", "bakeguard: x", "line one\nline 100%", env)
    assert capsys.readouterr().out == "::warning title=bakeguard: x::line one%0Aline 100%25\n"
    ci.write_summary(RECORD, env)
    text = summary.read_text()
    assert "| `r/a:1` | ❌ FAILED | linux/amd64 | linux/arm64 |" in text
    assert "docker-driver-double-push" in text and "mode: **plain**" in text


def test_nothing_outside_github(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ci.annotate("error", "t", "m", {"GITLAB_CI": "true"})
    ci.write_summary(RECORD, {"GITHUB_STEP_SUMMARY": str(tmp_path / "s.md")})
    assert capsys.readouterr().out == "" and not (tmp_path / "s.md").exists()


def test_gitlab_section(capsys: pytest.CaptureFixture[str]) -> None:
    with ci.Section("bakeguard_verify", "bakeguard: verification", {"GITLAB_CI": "true"}):
        pass
    err = capsys.readouterr().err
    assert "section_start:" in err and ":bakeguard_verify[collapsed=true]" in err
    assert "section_end:" in err
