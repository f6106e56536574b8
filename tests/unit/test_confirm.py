"""What a failed bake's own output says BuildKit pushed to each per-platform tag (the split's
confirm, when bake wrote no metadata): only whole digests, the last one said per tag."""

from __future__ import annotations

from bakeguard.refs import Reference
from bakeguard.split.confirm import pushed_in

A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def test_each_tag_bake_said_it_pushed_and_nothing_cut_short() -> None:
    out = (
        f"#6 pushing manifest for localhost:5100/r/app:v1-linux-amd64@{B}\n"
        f"#6 pushing manifest for localhost:5100/r/app:v1-linux-amd64@{A} 0.0s done\n"
        "\x1b[34m => => pushing manifest for localhost:5100/r/app:v1-linux-arm64@sha256:b"
        "bbb\x1b[0m\n"  # a terminal line cut short
        "#8 pushing localhost:5100/r/app:v1-linux-arm64 with docker\n"
    )
    assert pushed_in(out) == {Reference.parse("localhost:5100/r/app:v1-linux-amd64"): A}


def test_a_retry_names_the_cause_bake_gave_not_a_guess() -> None:
    """The retry's warning used to say "on the docker driver buildx < 0.22 also fails in the
    engine's second push" whatever bake said (on v0.21.1 it said "no such job")."""
    from bakeguard.split.confirm import bake_said

    lost = "#5 [t1 1/1] COPY a /\nERROR: target t7-linux-arm64: no such job ab12cd\n"
    assert "no such job" in bake_said(lost) and "lost builds" in bake_said(lost)
    registry = (
        "#9 exporting to image\n#9 ERROR: failed to push localhost:5000/a:v1: "
        "unexpected status: 500 Internal Server Error\n"
        "ERROR: target app: failed to solve: failed to push localhost:5000/a:v1\n"
    )
    assert bake_said(registry) == (
        "bake said: target app: failed to solve: failed to push localhost:5000/a:v1"
    )
    assert "\x1b" not in bake_said("ERROR: \x1b[2Jcleared\n")  # shown, never obeyed
    assert bake_said("") == "its output names no error"
    assert "second push" not in bake_said(lost + registry)
