from __future__ import annotations

from bakeguard.registry import tagstate
from bakeguard.registry.verdict import advice
from bakeguard.registry.verify import Outcome

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
    theirs = {"digest": "sha256:other", "expected_digest": "sha256:ours"}
    raced = outcome(found=THREE[:1], missing=THREE[1:], **theirs, another_push="sha256:other")
    assert not raced.ok and "another push wrote the tag" in advice([raced])
    # whole, but another push's: not a failure (the run passes, with a warning)
    assert outcome(found=THREE, **theirs, another_push="sha256:other").ok
    assert "--guard-split" not in advice([raced])
    short = outcome(found=THREE[:1], missing=THREE[1:], digest="sha256:x")
    assert "--guard-split=always" in advice([short])
    assert "--guard-split" not in advice([short], suggest_split=False)


def test_a_body_that_is_not_a_json_object_is_the_registrys_error() -> None:
    """A proxy's HTML login page answered with 200 is a RegistryError (a table line), never
    a traceback in place of bake's exit code."""
    import pytest

    from bakeguard.refs import Reference
    from bakeguard.registry import RegistryError
    from bakeguard.registry.errors import json_object

    ref = Reference.parse("reg.example/o/r:v1")
    for body in (b"<html>proxy login</html>", b"[1, 2]", b"null"):
        with pytest.raises(RegistryError, match="not a JSON object"):
            json_object(ref, body, "manifest")
    assert json_object(ref, b'{"a": 1}', "manifest") == {"a": 1}


def test_a_tag_holding_thousands_of_platforms_is_one_short_line() -> None:
    """(An index of 5000 entries: the first few platforms and a count, not a 40 KB line; the
    report's entry keeps them all.)"""
    many = tuple(f"linux/arch{i}" for i in range(5000))
    now = outcome(found=many, missing=THREE, digest="sha256:aa")
    line = tagstate.line(now, None)
    assert "holds linux/arch0, linux/arch1, linux/arch2, linux/arch3 and 4996 more" in line
    assert len(line) < 300
    assert len(tagstate.entry(now, None)["found"]) == 5000
