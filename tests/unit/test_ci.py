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


M = "application/vnd.oci.image.manifest.v1+json"


def verified(ref: str, plats: dict[str, str], attests: bool) -> dict[str, object]:
    return {
        "ref": ref,
        "ok": True,
        "found": list(plats),
        "missing": [],
        "digest": "sha256:" + "9" * 64,
        "platform_manifests": [
            {"platform": p, "digest": d, "media_type": M, "size": 480} for p, d in plats.items()
        ],
        "attestations": [
            {
                "digest": f"sha256:att-{d[7:]}",
                "media_type": M,
                "size": 840,
                "subject": d,
                "subject_platform": p,
            }
            for p, d in plats.items()
        ]
        if attests
        else [],
    }


def test_the_summary_shows_each_platform_s_full_digest_in_a_collapsed_block() -> None:
    amd, arm = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    record = {
        **RECORD,
        "verification": [
            verified("r/a:1", {"linux/amd64": amd, "linux/arm64": arm}, True),
            verified("r/b:1", {"linux/amd64": amd}, False),
        ],
    }
    text = ci.summary_markdown(record)
    head, block = text.split("<details>")
    assert amd not in head  # the main table stays short
    assert block.startswith("<summary>Per-platform digests in the registry (2 tags)</summary>\n\n")
    assert block.rstrip().endswith("</details>")
    rows = [line for line in block.splitlines() if line.startswith("| `")]
    assert rows == [
        f"| `r/a:1` | linux/amd64 | `{amd}` | `{M}` |",
        f"| `r/a:1` | linux/arm64 | `{arm}` | `{M}` |",
        f"| `r/a:1` | attestation of linux/amd64 | `sha256:att-{'a' * 64}` | `{M}` |",
        f"| `r/a:1` | attestation of linux/arm64 | `sha256:att-{'b' * 64}` | `{M}` |",
        f"| `r/b:1` | linux/amd64 | `{amd}` | `{M}` |",
    ]


def test_no_block_when_no_tag_was_read() -> None:
    """A tag the registry did not answer for has no per-platform rows; with none at all
    (or a report from before the per-platform keys) the summary has no empty block."""
    failed = {**RECORD["verification"][0], "platform_manifests": [], "attestations": []}  # type: ignore[index]
    assert "<details>" not in ci.summary_markdown({**RECORD, "verification": [failed]})
    assert "<details>" not in ci.summary_markdown(RECORD)


def test_the_summary_names_the_registry_profiles_remembered_or_learned() -> None:
    md = ci.summary_markdown(
        {
            "compat_remembered": [
                {"host": "a:5000", "profile": "docker-v2", "since": "2026-12-01", "error": "x"}
            ],
            "compat_detected": [
                {
                    "host": "b:5000",
                    "profile": "no-attestations",
                    "retry": "succeeded",
                    "remembered": True,
                },
                {"host": "c:5000", "profile": "docker-v2", "retry": "failed"},
            ],
        }
    )
    assert "registry `a:5000`: docker-v2 profile, remembered since 2026-12-01" in md
    assert "registry `b:5000`: no-attestations profile worked, remembered" in md
    assert "c:5000" not in md  # a failed retry teaches nothing


def test_the_summary_names_a_platform_s_missing_attestation() -> None:
    amd = "sha256:" + "a" * 64
    failed = {
        **verified("r/a:1", {"linux/amd64": amd}, False),
        "ok": False,
        "attestations_missing": [{"platform": "linux/amd64", "kind": "sbom"}],
    }
    row = next(
        x
        for x in ci.summary_markdown({**RECORD, "verification": [failed]}).splitlines()
        if x.startswith("| `r/a:1` | ❌")
    )
    assert "| sbom attestation of linux/amd64 |" in row
