"""The split's per-platform tags, checked before the bake: one tag per platform, each valid,
and generated target names bake accepts whatever the suffix."""

from __future__ import annotations

import json
import re

import pytest

from bakeguard.definition import Definition
from bakeguard.errors import UsageError
from bakeguard.platforms import check_split_tags
from bakeguard.split.plan import make_plan

THREE = ["linux/amd64", "linux/arm64", "linux/arm/v7"]


def definition(tag: str, platforms: list[str]) -> Definition:
    target = {"platforms": platforms, "tags": [tag], "output": ["type=image,push=true"]}
    return Definition.parse(json.dumps({"target": {"app": target}}))


@pytest.mark.parametrize(
    ("suffix", "platforms", "same"),
    [
        ("-{arch}", ["linux/arm/v6", "linux/arm/v7"], "linux/arm/v6, linux/arm/v7"),
        ("-{os}", THREE, "linux/amd64, linux/arm64, linux/arm/v7"),
        ("-{arch}", ["linux/amd64", "windows/amd64"], "linux/amd64, windows/amd64"),
    ],
)
def test_platforms_given_one_tag_are_refused_before_the_bake(
    suffix: str, platforms: list[str], same: str
) -> None:
    with pytest.raises(UsageError) as e:
        make_plan(definition("r.example/app:v1", platforms), False, suffix)
    msg = e.value.message()
    assert f"gives the platforms {same} of target app one per-platform tag" in msg
    assert "{variant}" in msg


def test_a_tag_the_suffix_makes_too_long_is_refused_before_the_bake() -> None:
    tag = "v" + "1" * 120  # 121 characters: -linux-arm-v7 takes it past 128
    with pytest.raises(UsageError) as e:
        make_plan(definition(f"r.example/app:{tag}", THREE), False, "-{os}-{arch}{variant}")
    assert "longer than 128 characters" in e.value.message()
    assert f"app:{tag}-linux-arm-v7" in e.value.message()
    # pushed by digest, no per-platform tag is made: nothing to refuse
    assert make_plan(definition(f"r.example/app:{tag}", THREE), True, "-{os}-{arch}{variant}")


def test_a_reference_without_tag_gets_the_suffix_in_its_repository_name() -> None:
    with pytest.raises(UsageError) as e:
        check_split_tags("-{arch}_X", "app", "r.example/app", THREE)
    assert "names no tag" in e.value.message() and "'app-amd64_X'" in e.value.message()
    check_split_tags("-{arch}", "app", "r.example/app", THREE)


def test_a_dot_in_the_suffix_makes_target_names_bake_accepts() -> None:
    """bake allows '.' in a tag but not in a target's name."""
    plan = make_plan(definition("r.example/app:v1", THREE), False, ".{arch}{variant}")
    assert [v.tags[0] for v in plan.variants] == [
        "r.example/app:v1.amd64",
        "r.example/app:v1.arm64",
        "r.example/app:v1.arm-v7",
    ]
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]+", name) for name in plan.definition["target"])
