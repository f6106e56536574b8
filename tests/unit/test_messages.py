"""Messages a user acts on (#23's poor messages): registry hosts named as docker names them,
a compatibility setting checked the same way by every command, the registry's own words
remembered, a passing tag never logged as an error, `--guard-verbose` saying each registry
request, and a report written whatever ended the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakeguard import compat, learned, log
from bakeguard.bakeargs import parse_bake
from bakeguard.cli import main
from bakeguard.docker import Docker
from bakeguard.errors import UsageError
from bakeguard.options import GuardOptions, parse
from bakeguard.refs import Reference
from bakeguard.registry import Credentials, Registry
from bakeguard.registry.transport import Request, Response
from bakeguard.registry.verify import Outcome, Verifier
from bakeguard.session import Session
from tests import reports


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("BAKEGUARD_LOG_FORMAT", "console")
    for var in ("BAKEGUARD_COMPAT", "BAKEGUARD_REPORT", "GITHUB_ACTIONS", "GITLAB_CI", "CI"):
        monkeypatch.delenv(var, raising=False)
    return {"XDG_CACHE_HOME": str(tmp_path / "cache")}


@pytest.mark.parametrize(
    "written", ["LOCALHOST:5802", "localhost:5802/", "https://localhost:5802/", "127.0.0.1:5802"]
)
def test_forget_finds_a_host_however_docker_would_name_it(
    cache: dict[str, str], capsys: pytest.CaptureFixture[str], written: str
) -> None:
    learned.learn(cache, "localhost:5802", "docker-v2", "400 manifest invalid")
    assert main([f"--guard-forget-compat={written}"]) == 0
    assert "forgot localhost:5802: the docker-v2 profile" in capsys.readouterr().out
    assert not learned.exists(cache)


def test_forget_refuses_what_is_no_registry_host(
    cache: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--guard-forget-compat=not a host"]) == 2
    assert "'not a host' is not a registry host" in capsys.readouterr().err


def test_settings_and_memory_name_hosts_as_docker_does(cache: dict[str, str]) -> None:
    assert compat.parse("LOCALHOST:5802/=docker-v2").for_host("localhost:5802") == "docker-v2"
    assert compat.parse("https://Reg.Example:443/=oci").for_host("reg.example") == "oci"
    assert compat.parse("index.docker.io=no-attestations").for_host("docker.io") is not None
    # a retry's profile, for the host as the tag wrote it
    assert compat.Compat(hosts={"LOCALHOST:5802": "oci"}).for_host("localhost:5802") == "oci"
    learned.learn(cache, "REG.example:5000", "docker-v2", "x")
    remembered = compat.Compat(remembered=learned.load(cache))
    assert remembered.for_host("reg.example:5000") == "docker-v2"


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("=docker-v2", "'=docker-v2' names no host"),
        ("reg.example=oci, =docker-v2", "'=docker-v2' names no host"),
        ("a.example:1=oci,A.example:1=docker-v2", "by 'a.example:1=oci' and 'A.example:1="),
        ("reg.example/=oci,https://reg.example=docker-v2", "the host reg.example is given twice"),
        ("docker-v2,oci", "the profile for every host is given twice"),
        ("bad host!=oci", "'bad host!' in 'bad host!=oci' is not a registry host"),
        ("reg.example=docker-v3", "unknown compatibility profile 'docker-v3'"),
    ],
)
def test_a_compat_setting_that_would_apply_silently_is_exit_2(value: str, named: str) -> None:
    """An empty host applied the profile to every host; a host named twice let the last win:
    both without a word. Now every command refuses them before anything runs."""
    for argv, env in (([], {"BAKEGUARD_COMPAT": value}), ([f"--guard-compat={value}"], {})):
        with pytest.raises(UsageError) as e:
            parse(argv, env)
        assert named in e.value.what and e.value.exit_code == 2


def test_the_plan_refuses_the_profile_a_push_refuses(
    cache: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "docker-bake.hcl").write_text('target "default" {\n  tags = ["r/a:1"]\n}\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BAKEGUARD_PLAN_OFFLINE", "1")
    assert main(["--guard-plan", "--guard-compat=docker-v3"]) == 2
    assert "unknown compatibility profile 'docker-v3'" in capsys.readouterr().err
    assert main(["--guard-plan", "--guard-compat=docker-v2"]) == 0


@pytest.mark.parametrize(
    "line",
    [
        "#6 ERROR: failed to push reg.example/a:1: 400 Bad Request: manifest invalid",
        "#6 12.3 ERROR: failed to push reg.example/a:1: 400 Bad Request: manifest invalid",
        "ERROR: failed to push reg.example/a:1: 400 Bad Request: manifest invalid",
    ],
)
def test_the_remembered_error_is_the_registry_s_own_words(cache: dict[str, str], line: str) -> None:
    words = "failed to push reg.example/a:1: 400 Bad Request: manifest invalid"
    found = compat.detect(line, ["reg.example"])
    assert found is not None and found.line == words
    # an entry an older bakeguard remembered with bake's step prefix is shown without it
    path = Path(learned.path(cache))
    path.parent.mkdir(parents=True)
    entry = {"profile": "docker-v2", "since": "2026-01-01", "error": line}
    path.write_text(json.dumps({"version": 1, "hosts": {"reg.example": entry}}))
    assert learned.load(cache)["reg.example"].error == words


@pytest.mark.parametrize(
    "entry",
    [
        {"since": "2026-02-30"},
        {"since": "yesterday"},
        {"since": "2026-01-01\n"},
        {"error": "x\n::error::y"},
        {"error": "x" * 501},
        {"profile": "oci"},
    ],
)
def test_a_remembered_entry_that_is_not_what_bakeguard_writes_is_not_used(
    cache: dict[str, str], entry: dict[str, str]
) -> None:
    path = Path(learned.path(cache))
    path.parent.mkdir(parents=True)
    good = {"profile": "docker-v2", "since": "2026-01-01", "error": "x"}
    hosts = {"bad.example": {**good, **entry}, "good.example": good}
    path.write_text(json.dumps({"version": 1, "hosts": hosts}))
    assert list(learned.load(cache)) == ["good.example"]


def test_a_passing_tag_is_no_error_beside_a_failing_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    good = Outcome("app", "r.example/a:1", ("linux/amd64",), found=("linux/amd64",))
    bad = Outcome("app", "r.example/b:1", ("linux/amd64",), error="manifest unknown")
    monkeypatch.setattr(Verifier, "run", lambda self, exps: [good, bad])
    log.configure(False, {"BAKEGUARD_LOG_FORMAT": "console"})
    session = Session(GuardOptions(), parse_bake([]), Docker("/nonexistent"), environ={})
    session.verify([], None)
    err = capsys.readouterr().err.splitlines()
    assert "bakeguard: verify r.example/a:1 (target app): OK, 1/1 platforms (linux/amd64)" in err
    assert "bakeguard: error: verify r.example/b:1 (target app): FAILED" in err
    assert not [line for line in err if "error:" in line and "a:1" in line]


def test_verbose_says_each_registry_request(capsys: pytest.CaptureFixture[str]) -> None:
    def answer(request: Request) -> Response:
        return Response(200, content=b"{}")

    for verbose in (False, True):
        log.configure(verbose, {"BAKEGUARD_LOG_FORMAT": "console"})
        reg = Registry(credentials=Credentials("/nonexistent"), transport=answer)
        assert reg.ping(Reference.parse("reg.example/o/r:v1"))[0] == 200
        err = capsys.readouterr().err
        said = "bakeguard: registry: GET https://reg.example/v2/ -> 200 (2 bytes, "
        assert (said in err) is verbose, err
    log.configure(False, {"BAKEGUARD_LOG_FORMAT": "console"})


@pytest.mark.parametrize(
    "argv",
    [
        ["--guard=sometimes"],
        ["--guard-verify-timeout=-1"],
        ["--guard-compat==docker-v2"],
        ["--guard-forget-compat=not a host"],
    ],
)
def test_a_usage_error_still_writes_the_report(
    cache: dict[str, str], tmp_path: Path, argv: list[str]
) -> None:
    report = tmp_path / "report.json"
    assert main([*argv, "--guard-report", str(report)]) == 2
    doc = reports.load(report)
    assert doc["exit_code"] == 2 and doc["schema"] == "bakeguard-report/1"


def test_a_usage_error_writes_the_report_the_variable_names(
    cache: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = tmp_path / "report.json"
    monkeypatch.setenv("BAKEGUARD_REPORT", str(report))
    assert main(["--guard-split=sometimes"]) == 2
    assert reports.load(report)["exit_code"] == 2
