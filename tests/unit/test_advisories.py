from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

from bakeguard.advisories import load, parse_table
from bakeguard.errors import UsageError
from bakeguard.matching import Facts, match

TABLE = load({"BAKEGUARD_PROBE_TTL": "0"})  # (0: nothing cached in the real home)
DOUBLE: dict[str, Any] = {
    "driver": "docker",
    "containerd_store": True,
    "nodes": 1,
    "push": True,
    "max_platforms": 3,
    "outputs": (),
    "attestations": None,
}


def ids(facts: Facts) -> set[str]:
    return {m.advisory.id for m in match(TABLE, facts)}


def test_table_is_complete_and_cited() -> None:
    assert len(TABLE) >= 12
    for a in TABLE:
        assert a.references and all(r.startswith("https://") for r in a.references), a.id
        assert a.symptom and a.fix and a.title
    assert len({a.id for a in TABLE}) == len(TABLE)
    dp = next(a for a in TABLE if a.id == "docker-driver-double-push")
    assert str(dp.affected) in ("<0.22.0,>=0.9.0", ">=0.9.0,<0.22.0")
    assert "https://github.com/docker/buildx/issues/3070" in dp.references


@pytest.mark.parametrize(
    ("version", "hit"),
    [
        ("0.8.9", False),
        ("0.9.0", True),
        ("0.13.1", True),
        ("0.21.1", True),
        ("0.21.99", True),
        ("0.22.0rc1", False),
        ("0.22.0", False),
        ("0.38.2", False),
    ],
)
def test_double_push_range_edges(version: str, hit: bool) -> None:
    assert ("docker-driver-double-push" in ids(Facts(Version(version), **DOUBLE))) is hit


@pytest.mark.parametrize(
    ("change", "hit"),
    [
        ({}, True),
        ({"driver": "remote"}, False),
        ({"containerd_store": False}, False),
        ({"push": False}, False),
        ({"max_platforms": 1}, False),
        ({"containerd_store": None}, True),
    ],
)
def test_double_push_conditions(change: dict[str, object], hit: bool) -> None:
    facts = Facts(Version("0.21.1"), **{**DOUBLE, **change})
    found = [m for m in match(TABLE, facts) if m.advisory.id == "docker-driver-double-push"]
    assert bool(found) is hit
    if change == {"containerd_store": None}:
        assert not found[0].certain and found[0].unknown == ("containerd_store",)


def test_unknown_version_cannot_tell() -> None:
    found = [
        m
        for m in match(TABLE, Facts(None, **DOUBLE))
        if m.advisory.id == "docker-driver-double-push"
    ]
    assert found and not found[0].certain and "buildx version" in found[0].unknown


def _bounds() -> list[tuple[str, str]]:
    out = []
    for a in TABLE:
        for spec in a.affected:
            out.append((a.id, spec.version))
    return out


ALL_TRUE = Facts(
    None,
    driver="docker-container",
    containerd_store=True,
    nodes=2,
    push=True,
    max_platforms=3,
    outputs=({"annotation": "x"},),
    attestations=True,
    load_and_push=True,
    compose=True,
    imagetools=True,
    buildkit=(Version("0.34.2"),),
    engine=Version("29.7.1"),
    oci_artifact_default=True,
)


@pytest.mark.parametrize(("aid", "bound"), _bounds())
def test_every_range_edge_is_what_the_specifier_says(aid: str, bound: str) -> None:
    """Just below, at and just above each bound, with every condition true (the drivers
    condition lists docker-container or holds for it), the match is the specifier's answer."""
    adv = next(a for a in TABLE if a.id == aid)
    v = Version(bound)
    below = (
        Version(f"{v.major}.{v.minor}.{v.micro - 1}")
        if v.micro
        else Version(f"{v.major}.{max(v.minor - 1, 0)}.99")
    )
    drivers = adv.when.get("drivers")
    driver = "docker-container" if not drivers or "docker-container" in drivers else drivers[0]
    store = True if driver == "docker" else None
    for probe_v in (below, v, Version(f"{v.major}.{v.minor}.{v.micro + 1}")):
        facts = dataclasses.replace(
            ALL_TRUE, version=probe_v, driver=driver, containerd_store=store
        )
        got = bool(match([adv], facts))
        assert got == adv.affected.contains(probe_v, prereleases=True), (aid, str(probe_v))


@given(st.tuples(st.integers(0, 1), st.integers(0, 45), st.integers(0, 12)))
def test_matching_agrees_with_the_specifier(t: tuple[int, int, int]) -> None:
    v = Version(".".join(map(str, t)))
    facts = Facts(v, **DOUBLE)
    adv = next(a for a in TABLE if a.id == "docker-driver-double-push")
    assert bool(match([adv], facts)) == (Version("0.9.0") <= v < Version("0.22.0"))


def test_user_file_adds_and_overrides(tmp_path: Path) -> None:
    f = tmp_path / "mine.toml"
    f.write_text(
        '[[advisory]]\nid = "docker-driver-double-push"\ntitle = "ours"\naffected = "<1"\n'
        'mitigation = "verify"\nsymptom = "s"\nfix = "f"\nreferences = ["https://x"]\n'
        '[[advisory]]\nid = "corp-registry"\ntitle = "t"\naffected = ">=0.30"\n'
        'mitigation = "split"\nsymptom = "s"\nfix = "f"\nreferences = ["https://y"]\n'
    )
    table = load({"BAKEGUARD_ADVISORIES": str(f), "BAKEGUARD_PROBE_TTL": "0"})
    by_id = {a.id: a for a in table}
    assert by_id["docker-driver-double-push"].title == "ours"
    assert by_id["corp-registry"].source == str(f)
    assert len(table) == len(TABLE) + 1


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[[advisory]]\nid='x'\n", "lacks"),
        ("not toml [", "not valid TOML"),
        (
            "[[advisory]]\nid='x'\ntitle='t'\naffected='>>1'\nmitigation='verify'\nsymptom='s'\n"
            "fix='f'\nreferences=[]\n",
            "specifier",
        ),
        (
            "[[advisory]]\nid='x'\ntitle='t'\naffected='>1'\nmitigation='pray'\nsymptom='s'\n"
            "fix='f'\nreferences=[]\n",
            "mitigation",
        ),
        (
            "[[advisory]]\nid='x'\ntitle='t'\naffected='>1'\nmitigation='verify'\nsymptom='s'\n"
            "fix='f'\nreferences=[]\n[advisory.when]\nphase_of_moon=1\n",
            "unknown conditions",
        ),
    ],
)
def test_bad_advisory_files_are_usage_errors(text: str, needle: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_table(text, "f.toml")
    assert needle in e.value.message() and e.value.exit_code == 2


def test_missing_user_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        load({"BAKEGUARD_ADVISORIES": str(tmp_path / "nope.toml")})


@pytest.mark.parametrize(
    ("reported", "certain"), [("v0.12.5", True), ("v0.0.0+unknown", False), (None, False)]
)
def test_a_dev_buildkit_cannot_tell(reported: str | None, certain: bool) -> None:
    from bakeguard.matching import facts_version

    adv = next(a for a in TABLE if a.id == "multinode-merge-desc-0.10")
    facts = Facts(Version("0.10.1"), nodes=2, push=True, buildkit=(facts_version(reported),))
    found = match([adv], facts)
    assert found and found[0].certain is certain


def test_parsed_tables_are_cached_by_content(tmp_path: Path) -> None:
    user = tmp_path / "mine.toml"
    entry = (
        "[[advisory]]\nid='{id}'\ntitle='t'\naffected='>=0.1'\nmitigation='verify'\n"
        "symptom='s'\nfix='f'\nreferences=[]\n"
    )
    user.write_text(entry.format(id="mine-1"))
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "BAKEGUARD_ADVISORIES": str(user)}
    first = load(env)
    cached = sorted((tmp_path / "cache" / "bakeguard" / "probe").glob("advisories-*.json"))
    assert len(cached) == 2  # the built-in table and the user's
    assert load(env) == first
    user.write_text(entry.format(id="mine-2"))  # an edited file is read again
    assert "mine-2" in {a.id for a in load(env)} and "mine-1" not in {a.id for a in load(env)}
    for f in cached:
        f.write_text("{not json")  # a damaged cache is ignored
    assert [a.id for a in load(env)][: len(TABLE)] == [a.id for a in TABLE]
    assert not list((tmp_path / "off").glob("**/*.json")) and load(
        {"XDG_CACHE_HOME": str(tmp_path / "off"), "BAKEGUARD_PROBE_TTL": "0"}
    )
    assert not list((tmp_path / "off").glob("**/*.json"))


ENTRY = (
    "[[advisory]]\nid = 'corp-1'\ntitle = 't'\naffected = '>=0.1'\nmitigation = 'verify'\n"
    "symptom = 's'\nfix = 'f'\nreferences = ['https://x']\n"
)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (
            "[advisory.when]\nmin_platforms = 'two'\n",
            "condition `min_platforms` must be a whole number, e.g. 2, not 'two'",
        ),
        ("[advisory.when]\npush = 'yes'\n", "condition `push` must be true or false, not 'yes'"),
        ("[advisory.when]\ndrivers = 'docker'\n", "condition `drivers` must be a list of driver"),
        ("[advisory.when]\noutputs = 'x'\n", "condition `outputs` must be a table of output"),
        ("[advisory.when]\nbuildkit = 12\n", "condition `buildkit` must be a PEP 440"),
        ("[advisory.when]\nbuildkit = '>>1'\n", "bad `buildkit` condition"),
        ("when = 1\n", "`when` must be a table of conditions"),
        ("fixed = 0.22\n", "`fixed` must be a string"),
        ("level = 1\n", "`level` must be one of error, warning, info, not 1"),
    ],
)
def test_a_condition_of_the_wrong_type_names_file_advisory_key_and_type(
    tmp_path: Path, extra: str, needle: str
) -> None:
    f = tmp_path / "corp.toml"
    f.write_text(ENTRY + extra)
    with pytest.raises(UsageError) as e:
        load({"BAKEGUARD_ADVISORIES": str(f), "BAKEGUARD_PROBE_TTL": "0"})
    assert e.value.message().startswith(f"{f}: advisory 'corp-1': ")
    assert needle in e.value.message() and e.value.exit_code == 2


def test_an_unknown_key_in_an_advisory_is_an_error_naming_the_known_ones() -> None:
    """(unknown conditions already were: a misspelt `mitigaton` was silently dropped)"""
    with pytest.raises(UsageError) as e:
        parse_table(ENTRY + "severity = 'high'\n", "f.toml")
    assert e.value.message().startswith("f.toml: advisory 'corp-1': unknown key `severity`")
    assert "known keys: id, title, level, affected" in e.value.message()


def test_a_file_that_is_not_utf8_text_is_a_usage_error(tmp_path: Path) -> None:
    f = tmp_path / "corp.toml"
    f.write_bytes(b"\xff\xfe[[advisory]]")
    with pytest.raises(UsageError) as e:
        load({"BAKEGUARD_ADVISORIES": str(f), "BAKEGUARD_PROBE_TTL": "0"})
    assert f"{f} is not UTF-8 text" in e.value.message()


@pytest.mark.parametrize("top", ["advisory = 1\n", "advisory = [1]\n", "advisories = []\n"])
def test_a_file_not_of_advisory_tables_is_a_usage_error(top: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_table(top, "f.toml")
    assert "f.toml: " in e.value.message() and "[[advisory]]" in e.value.message()


@pytest.mark.parametrize("damage", [b"[]", b"null", b"{}", b"\x80garbage", b'{"advisory": [{}]}'])
def test_a_damaged_cached_table_is_read_again_from_the_toml(tmp_path: Path, damage: bytes) -> None:
    """`[]` used to be an empty built-in table (no advisory ever matched), `null` a traceback,
    a damaged entry an error blaming the built-in table."""
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    assert [a.id for a in load(env)] == [a.id for a in TABLE]
    (cached,) = (tmp_path / "bakeguard" / "probe").glob("advisories-*.json")
    cached.write_bytes(damage)
    assert [a.id for a in load(env)] == [a.id for a in TABLE]
    assert cached.read_bytes() != damage  # written anew
