"""Remembered registry profiles (bakeguard.learned): what a successful retry teaches, what
BAKEGUARD_COMPAT overrides, what forgetting removes, and a damaged file read as nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakeguard import compat, learned
from bakeguard.cli import main
from bakeguard.definition import Definition
from bakeguard.options import parse


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    return {"XDG_CACHE_HOME": str(tmp_path / "cache")}


def test_a_learned_profile_is_kept_with_its_day_and_error(environ: dict[str, str]) -> None:
    assert learned.load(environ) == {} and not learned.exists(environ)
    learned.learn(environ, "picky:5000", "docker-v2", "400 MANIFEST_INVALID: oci index")
    got = learned.load(environ)["picky:5000"]
    assert got.profile == "docker-v2" and "MANIFEST_INVALID" in got.error
    assert len(got.since) == 10 and got.since[4] == "-"  # YYYY-MM-DD
    assert learned.exists(environ)


def test_oci_is_never_taught(environ: dict[str, str]) -> None:
    assert learned.learn(environ, "picky:5000", "oci", "x") is None
    assert not learned.exists(environ)


def test_forgetting_one_host_keeps_the_others_and_all_removes_the_file(
    environ: dict[str, str],
) -> None:
    learned.learn(environ, "127.0.0.1:5100", "docker-v2", "e1")
    learned.learn(environ, "other:8443", "no-attestations", "e2")
    gone = learned.forget(environ, ["localhost:5100"])  # the same registry by its other name
    assert [e.host for e in gone] == ["127.0.0.1:5100"]
    assert list(learned.load(environ)) == ["other:8443"]
    assert learned.forget(environ, ["nothing:1"]) == []
    assert [e.host for e in learned.forget(environ, ["all"])] == ["other:8443"]
    assert not learned.exists(environ)  # the fast paths are on again


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\xff not json",
        b"",
        b"[]",
        b"null",
        b'{"version": 1, "hosts": []}',
        b'{"version": 1, "hosts": {"h:1": {"profile": "weird", "since": "x", "error": "y"}}}',
        b'{"version": 1, "hosts": {"h:1": {"profile": "docker-v2", "since": 3, "error": "y"}}}',
    ],
)
def test_a_damaged_file_is_nothing_remembered_and_removed(
    environ: dict[str, str], data: bytes
) -> None:
    p = Path(learned.path(environ))
    p.parent.mkdir(parents=True)
    p.write_bytes(data)
    assert learned.load(environ) == {}
    assert not p.exists()


def test_a_newer_bakeguard_s_file_is_not_read_and_left_alone(environ: dict[str, str]) -> None:
    p = Path(learned.path(environ))
    p.parent.mkdir(parents=True)
    p.write_text('{"version": 3, "hosts": {"h:1": {"profile": "docker-v3"}}}')
    assert learned.load(environ) == {}
    assert learned.learn(environ, "h:2", "docker-v2", "e") is None
    # (an older bakeguard must not wipe what a newer one remembers)
    assert "docker-v3" in p.read_text()


def test_a_file_naming_no_oci_artifact_is_version_2_which_older_bakeguards_leave_alone(
    environ: dict[str, str],
) -> None:
    """A bakeguard that knows only version 1 would drop an entry of a profile it does not
    know, and remove a file left empty so; a version it does not know it leaves alone."""
    learned.learn(environ, "h:1", "docker-v2", "e1")
    assert json.loads(Path(learned.path(environ)).read_text())["version"] == 1
    learned.learn(environ, "h:2", "no-oci-artifact", "unknown: blob unknown to registry")
    doc = json.loads(Path(learned.path(environ)).read_text())
    assert doc["version"] == 2 and doc["hosts"]["h:2"]["profile"] == "no-oci-artifact"
    assert {e.profile for e in learned.load(environ).values()} == {"docker-v2", "no-oci-artifact"}
    learned.forget(environ, ["h:2"])
    assert json.loads(Path(learned.path(environ)).read_text())["version"] == 1


def test_a_setting_always_wins_over_what_is_remembered(environ: dict[str, str]) -> None:
    learned.learn(environ, "127.0.0.1:5100", "docker-v2", "rejected")
    remembered = learned.load(environ)
    for value, want, from_memory in [
        (None, "docker-v2", True),  # nothing set: the remembered profile
        ("localhost:5100=oci", "oci", False),  # set for that host (by its other name)
        ("oci", "oci", False),  # set for every host
        ("elsewhere:1=no-attestations", "docker-v2", True),  # set for another host only
    ]:
        c = compat.parse(value)
        c = compat.Compat(c.default, c.hosts, remembered)
        assert c.for_host("localhost:5100") == want, value
        assert (c.remembered_for("localhost:5100") is not None) is from_memory, value
    assert not compat.Compat(remembered=remembered).empty
    assert compat.Compat(default="oci", remembered=remembered).empty


def test_a_target_pushing_there_gets_the_profile_applied(environ: dict[str, str]) -> None:
    learned.learn(environ, "127.0.0.1:5100", "docker-v2", "rejected")
    defn = Definition.parse(
        json.dumps(
            {
                "target": {
                    "app": {
                        "tags": ["localhost:5100/r/app:v1"],
                        "platforms": ["linux/amd64"],
                        "output": ["type=image,push=true"],
                    }
                }
            }
        )
    )
    c = compat.Compat(remembered=learned.load(environ))
    assert c.for_target(defn.targets["app"]) == "docker-v2"


def test_the_forget_command_says_what_it_forgot(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", environ["XDG_CACHE_HOME"])
    learned.learn(environ, "picky:5000", "docker-v2", "rejected")
    assert main(["--guard-forget-compat=picky:5000"]) == 0
    assert "forgot picky:5000: the docker-v2 profile" in capsys.readouterr().out
    assert main(["--guard-forget-compat=picky:5000"]) == 0
    assert "nothing remembered for picky:5000 (remembered hosts: none)" in capsys.readouterr().out
    assert main(["--guard-forget-compat= , "]) == 2
    assert "names no registry" in capsys.readouterr().err


def test_memory_can_be_turned_off_and_is_checked() -> None:
    assert parse([], {"BAKEGUARD_COMPAT_MEMORY": "false"})[0].compat_memory is False
    assert parse([], {})[0].compat_memory is True
    with pytest.raises(Exception, match="BAKEGUARD_COMPAT_MEMORY"):
        parse([], {"BAKEGUARD_COMPAT_MEMORY": "sometimes"})


def test_what_is_remembered_keeps_the_fast_paths_from_replaying_stale_decisions(
    environ: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plain fast path never runs while a profile is remembered (it decides nothing
    before bake), and the split fast path's entry is another one once memory changes."""
    from bakeguard import cachekey, memo
    from bakeguard.bakeargs import parse_bake
    from bakeguard.docker import Docker

    monkeypatch.chdir(tmp_path)
    (tmp_path / "docker-bake.hcl").write_text('target "default" {}\n')
    opts, bake = parse([], environ)
    docker = Docker("/bin/true")
    memo.remember(docker, bake, environ, clean=True)
    assert memo.eligible(opts, bake, docker, environ)
    request = memo.PrintRequest(docker, parse_bake([]), environ)
    before = memo._split_path(opts, bake, docker, environ, request)
    learned.learn(environ, "picky:5000", "docker-v2", "rejected")
    assert not memo.eligible(opts, bake, docker, environ)
    assert memo._split_path(opts, bake, docker, environ, request) != before
    off, _ = parse([], {**environ, "BAKEGUARD_COMPAT_MEMORY": "false"})
    assert memo.eligible(off, bake, docker, environ)  # memory off: as if nothing was kept
    assert cachekey.ttl(environ) > 0


def test_a_failed_push_that_used_a_remembered_profile_says_how_to_forget_it(
    environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from bakeguard.profiles import Profiles

    opts, _ = parse([], environ)
    record = {"compat_remembered": [learned.Learned("picky:5000", "docker-v2", "d", "e")._asdict()]}
    Profiles(opts, environ, record, lambda level, text: None).after_failed_push()
    assert "`bakeguard --guard-forget-compat=picky:5000` forgets it" in capsys.readouterr().err


def _pushing_to(host: str) -> Definition:
    return Definition.parse(
        json.dumps(
            {
                "target": {
                    "app": {
                        "tags": [f"{host}/r/app:v1"],
                        "platforms": ["linux/amd64"],
                        "output": ["type=image,push=true"],
                    }
                }
            }
        )
    )


REJECTED = "ERROR: failed to push picky:5000/r/app:v1: 400 MANIFEST_INVALID: manifest invalid"


@pytest.mark.parametrize(
    ("setting", "remembered"),
    [(None, "docker-v2"), ("picky:5000=docker-v2", None), ("docker-v2", None)],
)
def test_no_retry_with_the_profile_the_push_already_had(
    environ: dict[str, str],
    setting: str | None,
    remembered: str | None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A push that the profile it already had (remembered or set) did not save is not
    rebuilt with that same profile: the retry could not change anything."""
    from bakeguard.profiles import Profiles

    if remembered:
        learned.learn(environ, "picky:5000", remembered, "rejected")
    env = {**environ, **({"BAKEGUARD_COMPAT": setting} if setting else {})}
    opts, _ = parse(["--guard=auto"], env)
    record: dict[str, object] = {}
    profiles = Profiles(opts, env, record, lambda level, text: None)
    assert profiles.compat.for_host("picky:5000") == "docker-v2"
    assert profiles.retry_for(REJECTED, _pushing_to("picky:5000"), profiles.compat) is None
    assert profiles.rejection is None
    said = capsys.readouterr()
    assert "already applied" in said.out + said.err


@pytest.mark.parametrize("setting", ["no-attestations", "picky:5000=oci", "localhost:1=oci,oci"])
def test_a_retry_that_overrode_a_setting_is_not_remembered(
    environ: dict[str, str], setting: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """BAKEGUARD_COMPAT wins over what is remembered, so a profile learned for a host it
    covers would never be used: not remembered, and the setting is what to change."""
    from bakeguard.profiles import Profiles

    env = {**environ, "BAKEGUARD_COMPAT": setting}
    opts, _ = parse(["--guard=auto"], env)
    record: dict[str, object] = {}
    profiles = Profiles(opts, env, record, lambda level, text: None)
    retry = profiles.retry_for(REJECTED, _pushing_to("picky:5000"))
    assert retry is not None and retry.for_host("picky:5000") == "docker-v2"
    assert profiles.retrying(lambda: 0) == 0
    assert not learned.exists(environ)  # (before the fix: remembered, never to be used)
    said = capsys.readouterr()
    text = said.out + said.err
    assert "next runs use it up front" not in text and "not remembered" in text
    assert record["compat_detected"] == [
        {"host": "picky:5000", "profile": "docker-v2", "retry": "succeeded", "remembered": False}
    ]
