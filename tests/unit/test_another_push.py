"""Another push of the same tag (a concurrent run or job): what bake reported is BuildKit's own
digest, not what the tag names later; a whole tag holding another push's manifests passes
with a warning that names it; a tag the registry cut down to part of this run's push is this
run's, and fails for the platforms it lacks."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from bakeguard.registry import Credentials, Registry
from bakeguard.registry.transport import Request, Response
from bakeguard.registry.verdict import advice, table
from bakeguard.registry.verify import Expectation, Outcome, Verifier, expectations

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
TWO = ("linux/amd64", "linux/arm64")
REF = "reg.example/o/app:v1"


def digest(n: str) -> str:
    return "sha256:" + hashlib.sha256(n.encode()).hexdigest()


def index(run: str) -> dict[str, Any]:
    """One run's index: a manifest per platform (its digests are the run's own)."""
    return {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": digest(f"{run}-{arch}"),
                "size": 500,
                "platform": {"os": "linux", "architecture": arch},
            }
            for arch in ("amd64", "arm64")
        ],
    }


def body(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def dig(doc: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(body(doc)).hexdigest()


class Registry_:
    """The tag holds `at_tag`; `stored` by digest; every child resolves."""

    def __init__(self, at_tag: dict[str, Any], *stored: dict[str, Any]) -> None:
        self.at_tag = at_tag
        self.stored = {dig(d): d for d in (at_tag, *stored)}

    def __call__(self, request: Request) -> Response:
        ref = request.url.rsplit("/", 1)[1]
        if request.method == "HEAD":
            return Response(200)
        doc = self.at_tag if ref == "v1" else self.stored.get(ref)
        if doc is None:
            return Response(404, json_body={"errors": [{"code": "MANIFEST_UNKNOWN"}]})
        ctype = doc["mediaType"]
        return Response(200, content=body(doc), headers={"Content-Type": ctype})

    def verify(self, pushed: str) -> Outcome:
        reg = Registry(credentials=Credentials("/nonexistent"), transport=self, budget=5)
        (o,) = Verifier(reg).run([Expectation("app", REF, TWO, pushed)])
        return o


OURS, READ_BACK = digest("ours"), digest("theirs")
# buildx < 0.22 on the docker driver writes in `containerimage.digest` what the tag names
# after the engine's push (another run's, when two push at once); the descriptor is BuildKit's
META = {
    "containerimage.digest": READ_BACK,
    "containerimage.descriptor": {"mediaType": OCI_INDEX, "digest": OURS, "size": 855},
}


def test_the_digest_a_build_pushed_is_buildkit_s_own() -> None:
    from bakeguard.metadata import pushed_digest

    assert pushed_digest(META) == OURS
    assert pushed_digest({"containerimage.digest": READ_BACK}) == READ_BACK  # multi-node merge
    assert pushed_digest({"containerimage.digest": "sha256:../../x"}) is None
    config = {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": OURS}
    assert pushed_digest({**META, "containerimage.descriptor": config}) == READ_BACK
    assert pushed_digest("not an object") is None


def test_a_plain_push_expects_buildkit_s_digest_not_the_tag_read_back() -> None:
    from bakeguard.definition import Definition

    defn = Definition.parse(
        json.dumps(
            {
                "target": {
                    "app": {
                        "platforms": list(TWO),
                        "tags": [REF],
                        "output": [{"type": "image", "push": "true"}],
                    }
                }
            }
        )
    )
    (exp,) = expectations(defn, {"app": META})
    assert exp.digest == OURS


def test_a_whole_tag_of_another_push_passes_and_names_that_push() -> None:
    from bakeguard.registry.verdict import another_push_warning

    mine, theirs = index("mine"), index("theirs")
    o = Registry_(theirs, mine).verify(dig(mine))
    assert o.ok and o.another_push == dig(theirs) and o.expected_digest == dig(mine)
    assert o.to_json()["another_push"] == dig(theirs)
    line = "\n".join(table([o]))
    assert "OK" not in line and f"another push's {dig(theirs)}" in line
    assert dig(theirs) in another_push_warning(o) and "concurrent run" in another_push_warning(o)


def test_the_tag_this_run_pushed_is_ok_without_a_word() -> None:
    mine = index("mine")
    o = Registry_(mine).verify(dig(mine))
    assert o.ok and o.another_push is None and "OK, 2/2 platforms" in "\n".join(table([o]))


def test_a_tag_cut_down_to_part_of_this_run_s_push_fails_and_is_not_another_push() -> None:
    """A registry keeping one platform of the index this run pushed (buildx#3070): the tag
    names another digest, but only this run's manifest; it fails for the platform it lacks."""
    mine = index("mine")
    cut = {**mine, "manifests": mine["manifests"][:1]}
    o = Registry_(cut, mine).verify(dig(mine))
    assert not o.ok and o.missing == ("linux/arm64",) and o.another_push is None
    assert "--guard-split=always" in advice([o])


def test_a_partial_tag_of_another_push_fails_and_says_whose() -> None:
    mine, theirs = index("mine"), index("theirs")
    partial = {**theirs, "manifests": theirs["manifests"][:1]}
    o = Registry_(partial, mine).verify(dig(mine))
    assert not o.ok and o.another_push == dig(partial)
    assert "another push wrote the tag" in advice([o])
    assert f"the tag holds another push's {dig(partial)}" in "\n".join(table([o]))


def test_the_run_warns_about_a_tag_another_push_wrote(capsys: pytest.CaptureFixture[str]) -> None:
    from bakeguard import log
    from bakeguard.docker import Docker
    from bakeguard.options import parse
    from bakeguard.session import Session

    mine, theirs = index("mine"), index("theirs")
    log.configure()
    opts, bake = parse([], {})
    session = Session(opts, bake, Docker("docker"), environ={})
    fake = Registry_(theirs, mine)
    session.warm = Registry(credentials=Credentials("/nonexistent"), transport=fake, budget=5)
    (o,) = session.verify([Expectation("app", REF, TWO, dig(mine))], None)
    err = capsys.readouterr().err
    assert o.ok and f"bakeguard: warning: {REF} holds another push's image {dig(theirs)}" in err
    assert session.record["verification"][0]["another_push"] == dig(theirs)


def test_a_whole_tag_of_another_push_counts_its_platforms_as_an_ok_one_does() -> None:
    """The line for another push's whole tag counts the platforms asked for (an extra one is
    not one of them) and names entries that are no platform, as the OK line does."""
    from bakeguard.registry.entries import Unverified

    o = Outcome(
        "app",
        "reg.example/o/app:v1",
        ("linux/amd64", "linux/arm64"),
        ("linux/amd64", "linux/arm64", "linux/s390x"),
        (),
        ("linux/s390x",),
        "sha256:" + "a" * 64,
        "sha256:" + "b" * 64,
        unverified=(Unverified("sha256:" + "c" * 64, "application/x-other", None, "unknown"),),
        another_push="sha256:" + "a" * 64,
    )
    lines = table([o])
    assert "whole, 2/2 platforms" in lines[0]
    assert any("not verified as a platform" in line for line in lines)
