from __future__ import annotations

from bakeguard.registry import tagstate
from bakeguard.registry.verify import Outcome, advice

THREE = ("linux/amd64", "linux/arm64", "linux/arm/v7")


def outcome(**kw: object) -> Outcome:
    base: dict[str, object] = {"target": "app", "ref": "r/a:1", "expected": THREE}
    return Outcome(**{**base, **kw})  # type: ignore[arg-type]


def test_each_state_a_user_reads() -> None:
    whole = outcome(found=THREE, digest="sha256:aa")
    one = outcome(found=THREE[:1], missing=THREE[1:], digest="sha256:bb")
    gone = outcome(error="GET r/a:1: 404", status=404)
    denied = outcome(error="refused (401)", status=401)
    assert tagstate.state(whole, None) == "present"
    assert tagstate.state(one, None) == "missing"
    assert tagstate.state(gone, None) == "absent"
    assert tagstate.state(denied, None) == "unreadable"
    assert tagstate.state(one, outcome(digest="sha256:bb")) == "untouched"
    assert tagstate.state(one, outcome(digest="sha256:cc")) == "missing"
    assert "holds linux/amd64; missing linux/arm64, linux/arm/v7" in tagstate.line(one, None)
    assert "no such tag" in tagstate.line(gone, None)
    entry = tagstate.entry(one, outcome(digest="sha256:cc"))
    assert entry["state"] == "missing" and entry["digest_before"] == "sha256:cc"


def test_advice_names_a_concurrent_push_not_the_split() -> None:
    raced = outcome(found=THREE, digest="sha256:other", expected_digest="sha256:ours")
    assert "another push wrote the tag" in advice([raced])
    assert "--guard-split" not in advice([raced])
    short = outcome(found=THREE[:1], missing=THREE[1:], digest="sha256:x")
    assert "--guard-split=always" in advice([short])
    assert "--guard-split" not in advice([short], suggest_split=False)
