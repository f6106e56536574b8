"""A big split's log says what it did in a few lines (per target: the report and
--guard-verbose), where it used to write two lines per target."""

from __future__ import annotations

from bakeguard.definition import Output, Target
from bakeguard.split.finish import summary
from bakeguard.split.plan import SplitPlan, Variant

PLATFORMS = ("linux/amd64", "linux/arm64", "linux/arm/v7")


def monorepo(n: int) -> SplitPlan:
    targets, variants = {}, []
    for i in range(n):
        tag = f"localhost:5000/mono/svc{i}:v1"
        raw = {"tags": [tag], "platforms": list(PLATFORMS), "output": ["type=registry"]}
        targets[f"svc{i}"] = Target(
            f"svc{i}", raw, (tag,), PLATFORMS, (Output.parse("type=registry"),)
        )
        for p in PLATFORMS:
            sfx = p.replace("/", "-")
            variants.append(
                Variant(f"svc{i}", f"svc{i}-{sfx}", p, (f"{tag}-{sfx}",), (f"{tag}-{sfx}",))
            )
    return SplitPlan({}, variants, targets, [], False)


def test_a_fifty_target_split_says_what_it_did_in_a_few_lines() -> None:
    plan = monorepo(50)
    names = [f"svc{i}" for i in range(48)]
    lines = summary(plan, names, False, ["svc48", "svc49"])
    assert len(lines) == 3
    assert lines[0].startswith("assembled 48 targets x 3 platforms (linux/amd64, linux/arm/v7, ")
    assert "and 44 more" in lines[0]
    assert "144 per-platform tags stay in the registry" in lines[1]
    assert "localhost:5000/mono/svc0:v1-linux-amd64" in lines[1]
    assert lines[2] == "not assembled: svc48, svc49"  # every failure by name


def test_by_digest_leaves_no_per_platform_tags_to_mention() -> None:
    plan = monorepo(1)
    lines = summary(plan, ["svc0"], True, [])
    assert lines == [
        "assembled 1 target x 3 platforms (linux/amd64, linux/arm/v7, linux/arm64): "
        "localhost:5000/mono/svc0:v1"
    ]
