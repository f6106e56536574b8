from __future__ import annotations

import json

import pytest

from bakeguard.definition import Definition, parse_csv_attrs
from bakeguard.platforms import normalize, suffix
from bakeguard.split.plan import make_plan


def defn(**target: object) -> Definition:
    return Definition.parse(
        json.dumps(
            {
                "group": {"default": {"targets": ["app"]}},
                "target": {"app": {"context": ".", **target}},
            }
        )
    )


@pytest.mark.parametrize(
    "output",
    [
        [{"type": "image", "push": "true"}],
        ["type=image,push=true"],
        ["type=registry"],
        [{"type": "registry"}],
    ],
)
def test_push_outputs_in_both_print_forms(output: list[object]) -> None:
    d = defn(tags=["r/a:1", "r/a:2"], output=output)
    assert d.pushing and d.targets["app"].push_refs == ["r/a:1", "r/a:2"]


@pytest.mark.parametrize(
    "output",
    [
        None,
        [{"type": "image", "push": "false"}],
        ["type=docker"],
        ["type=local,dest=out"],
        ["type=registry,push=false"],
    ],
)
def test_non_pushing_outputs(output: list[object] | None) -> None:
    assert not defn(tags=["r/a:1"], output=output).pushing


def test_tags_win_over_an_output_name_and_by_digest_writes_no_tag() -> None:
    """buildx fills an image output's name from the tags (build/opt.go): on the stack,
    `--set app.output=type=image,name=OTHER,push=true` beside tags pushed the tags only."""
    t = defn(tags=["r/a:1"], output=['type=image,"name=r/x:1,r/y:1",push=true']).targets["app"]
    assert t.push_refs == ["r/a:1"] and t.tag_refs == ["r/a:1"]
    t = defn(output=['type=image,"name=r/x:1,r/y:1",push=true']).targets["app"]
    assert t.push_refs == ["r/x:1", "r/y:1"] and t.tag_refs == ["r/x:1", "r/y:1"]
    t = defn(output=["type=image,name=r/x,push-by-digest=true,push=true"]).targets["app"]
    assert t.push_refs == ["r/x"] and t.tag_refs == []


def test_csv_attrs_keep_quoted_commas() -> None:
    assert parse_csv_attrs('type=image,"name=a,b",push=true') == {
        "type": "image",
        "name": "a,b",
        "push": "true",
    }


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("linux/arm64/v8", "linux/arm64"),
        ("linux/arm", "linux/arm/v7"),
        ("linux/amd64/v1", "linux/amd64"),
        ("linux/amd64/v3", "linux/amd64/v3"),
        ("linux/arm/v6", "linux/arm/v6"),
        ("Linux/AMD64", "linux/amd64"),
    ],
)
def test_platform_normalization(raw: str, norm: str) -> None:
    assert normalize(raw) == norm


def test_suffix() -> None:
    assert suffix("linux/arm/v7", "-{os}-{arch}{variant}") == "-linux-arm-v7"
    assert suffix("linux/arm64/v8", "-{os}-{arch}{variant}") == "-linux-arm64"
    assert suffix("linux/amd64", "_{arch}") == "_amd64"


THREE = ["linux/amd64", "linux/arm64", "linux/arm/v7"]


def split_defn() -> Definition:
    return Definition.parse(
        json.dumps(
            {
                "target": {
                    "app": {
                        "context": ".",
                        "tags": ["reg:5000/o/app:v1", "reg:5000/o/app:latest"],
                        "platforms": THREE,
                        "output": [{"type": "image", "push": "true", "oci-mediatypes": "true"}],
                        "annotations": ["index:org.opencontainers.image.title=x"],
                    },
                    "single": {
                        "context": ".",
                        "tags": ["reg:5000/o/s:v1"],
                        "platforms": ["linux/amd64"],
                        "output": ["type=registry"],
                    },
                    "local": {"context": ".", "output": ["type=local,dest=out"]},
                }
            }
        )
    )


def test_plan_by_digest() -> None:
    plan = make_plan(split_defn(), by_digest=True, suffix_template="-{os}-{arch}{variant}")
    assert [v.name for v in plan.variants] == [
        "app-linux-amd64",
        "app-linux-arm64",
        "app-linux-arm-v7",
    ]
    gen = plan.definition["target"]
    assert set(gen) == {"app-linux-amd64", "app-linux-arm64", "app-linux-arm-v7", "single", "local"}
    out = gen["app-linux-arm64"]["output"][0]
    assert (
        "push-by-digest=true" in out
        and "name=reg:5000/o/app" in out
        and "oci-mediatypes=true" in out
    )
    assert "tags" not in gen["app-linux-arm64"] and gen["app-linux-arm64"]["platforms"] == [
        "linux/arm64"
    ]
    assert gen["single"] == split_defn().targets["single"].raw


def test_plan_docker_driver_tags() -> None:
    plan = make_plan(split_defn(), by_digest=False, suffix_template="-{os}-{arch}{variant}")
    gen = plan.definition["target"]
    assert gen["app-linux-arm-v7"]["tags"] == ["reg:5000/o/app:v1-linux-arm-v7"]
    assert "push-by-digest" not in gen["app-linux-arm-v7"]["output"][0]


def test_plan_shard_keeps_only_its_platforms() -> None:
    plan = make_plan(split_defn(), True, "-{os}-{arch}{variant}", only_platforms=["linux/arm64"])
    assert list(plan.definition["target"]) == ["app-linux-arm64"]


def test_a_comma_list_of_platforms_is_several_platforms() -> None:
    """`--set '*.platform=linux/amd64,linux/arm64'` prints as ONE entry; bake builds two."""
    t = defn(platforms=["linux/amd64,linux/arm64", " linux/arm64 "]).targets["app"]
    assert t.platforms == ("linux/amd64", "linux/arm64")
    assert t.normalized_platforms == ("linux/amd64", "linux/arm64")


def test_declared_platforms_fill_only_targets_printed_without_any() -> None:
    d = Definition.parse(
        json.dumps(
            {
                "target": {
                    "lost": {"tags": ["r/a:1"], "output": ["type=registry"]},
                    "kept": {"platforms": ["linux/amd64"], "output": ["type=registry"]},
                }
            }
        )
    )
    fixed = d.declaring({"lost": ("linux/amd64", "linux/arm64"), "kept": ("linux/s390x",)})
    assert fixed.targets["lost"].platforms == ("linux/amd64", "linux/arm64")
    assert fixed.targets["lost"].raw["platforms"] == ["linux/amd64", "linux/arm64"]
    assert fixed.targets["kept"].platforms == ("linux/amd64",)
    assert dict(fixed.corrected) == {"lost": ("linux/amd64", "linux/arm64")}
    assert d.declaring({}) is d
