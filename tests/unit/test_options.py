from __future__ import annotations

from pathlib import Path

import pytest

from bakeguard.bakeargs import parse_bake
from bakeguard.errors import UsageError
from bakeguard.options import parse


@pytest.mark.parametrize(
    ("argv", "targets"),
    [
        (["app"], ["app"]),
        (["-f", "a.hcl", "app", "--set", "app.tags=x", "--push", "other"], ["app", "other"]),
        (["--file=a.hcl", "--set=*.platform=linux/arm64", "app"], ["app"]),
        (["-fa.hcl", "app"], ["app"]),
        (["-f=a.hcl", "app"], ["app"]),
        (["-Df", "a.hcl", "app"], ["app"]),
        (["--progress", "plain", "app"], ["app"]),
        (["--check", "app"], ["app"]),
        (["--check=true", "app"], ["app"]),
        (["--list", "targets"], []),
        (["--list=variables", "--var", "TAG=1"], []),
        (["--provenance", "false", "app"], ["app"]),
        (["--metadata-file", "m.json", "--builder", "b", "app", "-j", "2"], ["app"]),
        (["--future-flag=1", "app"], ["app"]),
        (["app", "--", "--weird"], ["app", "--weird"]),
        (["--allow", "fs.read=..", "--policy", "strict=true", "x"], ["x"]),
    ],
)
def test_targets_are_told_from_flag_values(argv: list[str], targets: list[str]) -> None:
    args = parse_bake(argv)
    assert args.targets == targets
    assert args.argv == argv  # untouched, in order


def test_values_of_all_forms() -> None:
    args = parse_bake(["-f", "a.hcl", "--file=b.hcl", "-fc.hcl", "-Dfd.hcl", "app"])
    assert args.values("--file") == ["a.hcl", "b.hcl", "c.hcl", "d.hcl"]
    assert args.flag_set("--debug")


def test_bool_flags_read_their_final_value() -> None:
    assert parse_bake(["--push"]).flag_set("--push")
    assert not parse_bake(["--push=false"]).flag_set("--push")
    assert not parse_bake(["--push", "--push=false"]).flag_set("--push")


@pytest.mark.parametrize(
    "argv",
    [
        ["--print"],
        ["--list=targets"],
        ["--list", "targets"],
        ["--call", "check"],
        ["--check"],
        ["-h"],
        ["--help"],
        ["--call=outline", "app"],
        ["--list-targets"],
    ],
)
def test_passthrough_only(argv: list[str]) -> None:
    assert parse_bake(argv).passthrough_only


@pytest.mark.parametrize("argv", [["app"], ["--push"], ["--call", "build"], ["--print=false"]])
def test_builds_are_not_passthrough_only(argv: list[str]) -> None:
    assert not parse_bake(argv).passthrough_only


def test_unknown_flags_stay_in_place() -> None:
    args = parse_bake(["--new-thing", "--push", "app"])
    assert args.unknown == ["--new-thing"]
    assert args.argv == ["--new-thing", "--push", "app"]


def test_plus_goes_before_the_terminator() -> None:
    args = parse_bake(["app", "--", "x"]).plus("--metadata-file", "m.json")
    assert args.argv == ["app", "--metadata-file", "m.json", "--", "x"]


def test_without_drops_flag_and_value() -> None:
    args = parse_bake(["-f", "a.hcl", "--set", "x=1", "--push", "app"])
    assert args.without("--file", "--set").argv == ["--push", "app"]
    assert args.without_targets().argv == ["-f", "a.hcl", "--set", "x=1", "--push"]


def test_guard_options_come_out_of_bake_args() -> None:
    opts, bake = parse(
        ["--guard=strict", "app", "--guard-split", "never", "--push", "--guard-verify-only"], {}
    )
    assert (opts.guard, opts.split, opts.verify_only) == ("strict", "never", True)
    assert bake.argv == ["app", "--push"]


def test_defaults_env_and_flag_precedence() -> None:
    opts, _ = parse([], {})
    assert (opts.guard, opts.split, opts.verify, opts.verify_timeout) == ("auto", "auto", True, 60)
    env = {"BAKEGUARD_GUARD": "warn", "BAKEGUARD_SPLIT": "always", "BAKEGUARD_VERIFY_TIMEOUT": "5"}
    opts, _ = parse([], env)
    assert (opts.guard, opts.split, opts.verify_timeout) == ("warn", "always", 5)
    opts, _ = parse(["--guard=off"], env)
    assert opts.guard == "off"


@pytest.mark.parametrize(
    ("argv", "env", "needle"),
    [
        (["--guard=loud"], {}, "warn, auto, strict, off"),
        (["--guard-split=sometimes"], {}, "auto, always, never"),
        ([], {"BAKEGUARD_GUARD": "nope"}, "BAKEGUARD_GUARD"),
        (["--guard-frobnicate"], {}, "unknown bakeguard option --guard-frobnicate"),
        (["--guard"], {}, "--guard needs a value"),
        (["--guard-verify-timeout=soon"], {}, "seconds"),
        (["--guard-verify=maybe"], {}, "true or false"),
    ],
)
def test_bad_guard_input_is_a_usage_error(
    argv: list[str], env: dict[str, str], needle: str
) -> None:
    with pytest.raises(UsageError) as e:
        parse(argv, env)
    assert needle in e.value.message()
    assert e.value.exit_code == 2


def test_guard_args_after_terminator_are_bakes() -> None:
    opts, bake = parse(["--", "--guard=off"], {})
    assert opts.guard == "auto"
    assert bake.argv == ["--", "--guard=off"]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999", "-1", "86400", "3601"])
def test_a_verify_timeout_that_is_not_a_sane_number_of_seconds_is_refused(value: str) -> None:
    for argv, env, named in (
        ([f"--guard-verify-timeout={value}"], {}, "--guard-verify-timeout"),
        ([], {"BAKEGUARD_VERIFY_TIMEOUT": value}, "BAKEGUARD_VERIFY_TIMEOUT"),
    ):
        with pytest.raises(UsageError) as e:
            parse(argv, env)
        assert e.value.message().startswith(f"{named}: invalid verify timeout {value!r}")
        assert "from 0 to 3600" in e.value.message()


@pytest.mark.parametrize(
    ("suffix", "needle"),
    [
        ("", "is empty: every platform would be pushed to the final tag itself"),
        ("-{bogus}", "unknown placeholder {bogus}"),
        ("-{os!r}", "unknown placeholder {os!r}"),
        ("-{arch:>9}", "unknown placeholder {arch:>9}"),
        ("-{0}", "unknown placeholder {0}"),
        ("-{arch", "not a valid template"),
        ("-{arch}}", "not a valid template"),
        ("-{os}/{arch}", "'/' cannot be part of a tag"),
        ("-{{arch}}", "'{' cannot be part of a tag"),
        ("-amd64", "names no placeholder: every platform would get the same tag"),
    ],
)
def test_a_split_suffix_that_cannot_make_per_platform_tags_is_refused(
    suffix: str, needle: str
) -> None:
    with pytest.raises(UsageError) as e:
        parse(["--guard-split-suffix", suffix], {})
    assert needle in e.value.message() and "{os}, {arch} and {variant}" in e.value.message()
    if suffix:  # (an empty variable is an unset one)
        with pytest.raises(UsageError) as e:
            parse([], {"BAKEGUARD_SPLIT_SUFFIX": suffix})
        assert e.value.message().startswith("BAKEGUARD_SPLIT_SUFFIX")


@pytest.mark.parametrize("suffix", ["-{os}-{arch}{variant}", ".{arch}{variant}", "_{arch}-x"])
def test_a_split_suffix_of_placeholders_and_tag_characters_is_taken(suffix: str) -> None:
    assert parse(["--guard-split-suffix", suffix], {})[0].split_suffix == suffix


@pytest.mark.parametrize(
    "flag", ["--guard-report", "--guard-digests", "--guard-merge", "--guard-shard"]
)
def test_an_empty_value_is_refused_not_taken_for_unset(flag: str) -> None:
    """`--guard-merge=` used to run a build; `--guard-report=` wrote no report."""
    with pytest.raises(UsageError) as e:
        parse([f"{flag}=", "--push"], {})
    assert f"{flag} is given an empty value" in e.value.message()


@pytest.mark.parametrize("shard", [",", " , "])
def test_a_shard_of_no_platform_is_refused(shard: str) -> None:
    with pytest.raises(UsageError) as e:
        parse(["--guard-shard", shard], {})
    assert "names no platform" in e.value.message() and "linux/arm64" in e.value.message()


def test_a_report_path_is_checked_without_a_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("old.json").write_text("kept")
    for ok in ("-", "new.json", "old.json"):
        assert parse(["--guard-report", ok], {})[0].report == ok
    assert not Path("new.json").exists() and Path("old.json").read_text() == "kept"
    Path("a-file").write_text("x")
    for bad, why in (
        ("missing/r.json", "cannot be written: No such file or directory"),
        (".", "is a folder, not a file"),
        ("a-file/r.json", "cannot be written: Not a directory"),
    ):
        with pytest.raises(UsageError) as e:
            parse(["--guard-report", bad], {})
        assert e.value.message().startswith(f"--guard-report {bad}: {why}")


def test_a_digests_folder_under_a_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a-file").write_text("x")
    assert parse(["--guard-digests", "new/deeper"], {})[0].digests == "new/deeper"
    with pytest.raises(UsageError) as e:
        parse(["--guard-digests", "a-file"], {})
    assert "--guard-digests a-file: is a file, not a folder" in e.value.message()
    with pytest.raises(UsageError) as e:
        parse([], {"BAKEGUARD_DIGESTS": "a-file/d"})
    assert "is under a file" in e.value.message()


def test_a_shard_with_the_guard_off_is_refused() -> None:
    """--guard=off is plain bake: it would push every platform, not the shard's."""
    with pytest.raises(UsageError, match="needs the guard on"):
        parse(["--guard=off", "--guard-shard", "linux/arm64", "--push"], {})
    with pytest.raises(UsageError, match="BAKEGUARD_SHARD needs the guard on"):
        parse(["--push"], {"BAKEGUARD_GUARD": "off", "BAKEGUARD_SHARD": "linux/arm64"})


@pytest.mark.parametrize("ttl", ["nan", "inf", "-1", "soon"])
def test_a_probe_ttl_that_is_not_seconds_is_refused(ttl: str) -> None:
    with pytest.raises(UsageError, match="BAKEGUARD_PROBE_TTL"):
        parse(["--push"], {"BAKEGUARD_PROBE_TTL": ttl})
    assert parse(["--push"], {"BAKEGUARD_PROBE_TTL": "0"})[0].guard == "auto"
