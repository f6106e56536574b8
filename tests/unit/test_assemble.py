"""How the split writes a target's tags (split.assemble.create): control flow only, with a scripted
`docker` and registry client; tests/stack/test_split.py proves it on the real stack."""

from __future__ import annotations

import hashlib
import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from bakeguard.docker import Result
from bakeguard.errors import BakeguardError
from bakeguard.refs import Reference
from bakeguard.registry import RegistryError, Unreachable
from bakeguard.split.assemble import compose_only, create, split_entry

INDEX = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"})
SOURCES = ["reg.example/o/r:v1-linux-amd64@sha256:a", "reg.example/o/r:v1-linux-arm64@sha256:b"]


class Docker:
    def __init__(self, *results: Result) -> None:
        self.results = list(results)
        self.calls: list[list[str]] = []

    def start(self, args: list[str]) -> Result:
        self.calls.append(list(args))
        return self.results.pop(0)

    @staticmethod
    def collect(p: Result, timeout: float | None = 60) -> Result:
        return p


class Writer:
    def start(self) -> None:  # the real client's budget starts here; nothing to time
        pass

    def __init__(self, *errors: Exception | None) -> None:
        self.errors = list(errors)
        self.written: list[tuple[str, bytes, str]] = []

    def put_manifest(self, ref: Reference, body: bytes, media_type: str) -> str:
        err = self.errors.pop(0) if self.errors else None
        if err is not None:
            raise err
        self.written.append((str(ref), body, media_type))
        return "sha256:x"


def session(docker: Docker) -> Any:
    log = logging.getLogger("test_assemble")
    return SimpleNamespace(docker=docker, log=log, bake=SimpleNamespace(last=lambda _: None))


def ok(stdout: str = "", stderr: str = "") -> Result:
    return Result((), 0, stdout, stderr)


INDEX_DIGEST = "sha256:" + hashlib.sha256(INDEX.encode()).hexdigest()


@pytest.fixture(autouse=True)
def no_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tenacity.nap.time.sleep", lambda _: None)


def test_compose_only_when_every_tag_is_in_the_sources_repository() -> None:
    assert compose_only(["reg.example/o/r:v1", "reg.example/o/r:latest"], SOURCES)
    assert not compose_only(["reg.example/o/r:v1", "reg.example/o/other:v1"], SOURCES)
    assert not compose_only(["mirror.example/o/r:v1"], SOURCES)
    # another name for the same registry is another registry to docker too
    assert not compose_only(["localhost:5000/o/r:v1"], ["127.0.0.1:5000/o/r@sha256:a"])


def test_imagetools_composes_and_every_tag_gets_the_very_bytes_it_printed() -> None:
    d, w = Docker(ok(INDEX + "\n")), Writer()
    tags = ["reg.example/o/r:v1", "reg.example/o/r:latest"]
    create(
        session(d),
        "app",
        tags,
        ["index:org.opencontainers.image.title=x"],
        SOURCES,
        None,
        lambda: w,
    )
    assert d.calls == [
        [
            "buildx",
            "imagetools",
            "create",
            "--dry-run",
            "-t",
            tags[0],
            "-t",
            tags[1],
            "--annotation",
            "index:org.opencontainers.image.title=x",
            *SOURCES,
        ]
    ]
    assert w.written == [
        (t, INDEX.encode(), "application/vnd.oci.image.index.v1+json") for t in tags
    ]


def test_tags_in_another_repository_are_written_by_imagetools() -> None:
    said = f"#1 0.074 pushing {INDEX_DIGEST} to reg.example/o/mirror:v1\n"
    d, w = Docker(ok(stderr=said)), Writer()
    got = create(session(d), "app", ["reg.example/o/mirror:v1"], [], SOURCES, None, lambda: w)
    assert "--dry-run" not in d.calls[0] and w.written == []
    assert got == ("imagetools", INDEX_DIGEST)  # the digest imagetools says it pushed


def test_the_digest_written_is_what_verification_expects() -> None:
    """The index's digest is returned however it was written: bakeguard's hash of the bytes
    it wrote, what imagetools logged, or (when it logged nothing) the hash of its
    composition."""
    w = Writer()
    d = Docker(ok(INDEX + "\n"))
    assert create(session(d), "app", ["reg.example/o/r:v1"], [], SOURCES, None, lambda: w) == (
        "bakeguard",
        INDEX_DIGEST,
    )
    d = Docker(ok(), ok(INDEX + "\n"))  # imagetools wrote, said nothing: a dry run says
    assert create(session(d), "app", ["reg.example/o/mirror:v1"], [], SOURCES) == (
        "imagetools",
        INDEX_DIGEST,
    )
    assert "--dry-run" not in d.calls[0] and "--dry-run" in d.calls[1]


@pytest.mark.parametrize(
    "error",
    [
        RegistryError("reg.example refused access to o/r (403: DENIED)", 403),
        Unreachable("reg.example: gaierror", transient=True),
    ],
)
def test_a_write_bakeguard_cannot_make_is_left_to_imagetools(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    d, w = Docker(ok(INDEX), ok()), Writer(error)
    with caplog.at_level(logging.INFO, "test_assemble"):
        create(session(d), "app", ["reg.example/o/r:v1"], [], SOURCES, None, lambda: w)
    assert "--dry-run" in d.calls[0] and "--dry-run" not in d.calls[1]
    assert "; imagetools create writes it" in caplog.text


def test_a_transient_write_error_retries_the_whole_assembly() -> None:
    d, w = Docker(ok(INDEX), ok(INDEX)), Writer(RegistryError("503", 503, transient=True))
    create(session(d), "app", ["reg.example/o/r:v1"], [], SOURCES, None, lambda: w)
    assert len(d.calls) == 2 and len(w.written) == 1


def test_a_source_imagetools_cannot_read_fails_with_its_words() -> None:
    d = Docker(Result((), 1, "", "ERROR: reg.example/o/r@sha256:b: not found"))
    with pytest.raises(
        BakeguardError, match=r"imagetools create for target app failed: .*not found"
    ):
        create(session(d), "app", ["reg.example/o/r:v1"], [], SOURCES, None, Writer)
    assert len(d.calls) == 1


def test_who_wrote_the_tags_is_returned_for_the_report() -> None:
    d = Docker(ok(INDEX))
    assert create(session(d), "app", ["reg.example/o/r:v1"], [], SOURCES, None, Writer) == (
        "bakeguard",
        INDEX_DIGEST,
    )
    denied = Writer(RegistryError("403", 403))
    d = Docker(ok(INDEX), ok())  # imagetools writes the very index it composed
    assert create(session(d), "app", ["reg.example/o/r:v1"], [], SOURCES, None, lambda: denied) == (
        "imagetools",
        INDEX_DIGEST,
    )
    assert len(d.calls) == 2


def test_a_digest_holding_500_is_not_a_server_error() -> None:
    """A 400 whose text names a digest with "500" in it failed four times over, as if the
    registry were down; it is final at once and says which target it was."""
    text = (
        'ERROR: failed commit on ref "index-sha256:5003c0ffee": unexpected status from PUT '
        "request: 400 Bad Request"
    )
    d = Docker(Result((), 1, "", text))
    with pytest.raises(BakeguardError, match=r"imagetools create for target app failed"):
        create(session(d), "app", ["reg.example/o/r:v1"], [], SOURCES, None, None)
    assert len(d.calls) == 1


def test_the_report_names_each_platform_s_source_digest() -> None:
    """The split's report entry pairs each platform with the image its tags were made from;
    the older parallel lists stay as they were."""
    t: Any = SimpleNamespace(name="app", tag_refs=("reg.example/o/app:v1",))
    sources = [
        ("linux/amd64", "reg.example/o/app@sha256:aa"),
        ("linux/arm/v7", "reg.example/o/app@sha256:bb"),
    ]
    entry = split_entry(t.name, t.tag_refs, sources, True, "bakeguard")
    assert entry["platform_sources"] == [
        {"platform": "linux/amd64", "source": "reg.example/o/app@sha256:aa", "digest": "sha256:aa"},
        {
            "platform": "linux/arm/v7",
            "source": "reg.example/o/app@sha256:bb",
            "digest": "sha256:bb",
        },
    ]
    assert entry["platforms"] == ["linux/amd64", "linux/arm/v7"]
    assert entry["sources"] == [s for _, s in sources]
    assert entry["refs"] == ["reg.example/o/app:v1"] and entry["index_written_by"] == "bakeguard"


def test_a_stop_kills_the_running_imagetools_and_starts_nothing_more() -> None:
    """What a Ctrl-C during the assembly does (split.finish): the imagetools under way is
    killed at once, so it cannot write a tag after bakeguard has said what the tags hold,
    and no attempt or write starts after it."""
    import subprocess
    import threading
    import time

    from bakeguard.docker import Docker as RealDocker
    from bakeguard.split.assemble import Helpers, Stopped

    class Slow:
        def start(self, args: list[str]) -> subprocess.Popen[str]:
            return subprocess.Popen(["sleep", "60"], stdout=subprocess.PIPE, text=True)

        collect = staticmethod(RealDocker.collect)

    helpers, got = Helpers(), []
    t = threading.Thread(target=lambda: got.append(helpers.run(Slow(), [], 120)))  # type: ignore[arg-type]
    t.start()
    deadline = time.monotonic() + 10
    while not helpers._live and time.monotonic() < deadline:
        time.sleep(0.01)
    helpers.stop()
    t.join(5)
    assert not t.is_alive() and got[0].code != 0
    with pytest.raises(Stopped):
        helpers.write("app")
    with pytest.raises(Stopped):
        helpers.run(Slow(), [], 120)  # type: ignore[arg-type]
