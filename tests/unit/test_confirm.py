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
