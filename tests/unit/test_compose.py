from __future__ import annotations

from pathlib import Path

from bakeguard import compose


def test_platforms_of_each_built_service_by_bake_target_name(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        "  web.app:\n"
        "    build:\n"
        "      context: .\n"
        "      platforms: [linux/amd64, 'linux/arm64,linux/arm/v7']\n"
        "  db:\n"
        "    image: postgres\n"
        "  worker:\n"
        "    build:\n"
        "      context: .\n"
        "      platforms: ['${ARCH_A:-linux/amd64}', '$ARCH_B']\n"
        "      x-bake:\n"
        "        platforms: linux/ppc64le\n"
    )
    paths = compose.files([], {}, str(tmp_path))
    assert paths == [str(tmp_path / "compose.yaml")]
    found = compose.declared_platforms(paths, {"ARCH_B": "linux/riscv64"})
    assert found == {
        "web_app": ("linux/amd64", "linux/arm64", "linux/arm/v7"),
        "worker": ("linux/amd64", "linux/riscv64", "linux/ppc64le"),
    }


def test_dotenv_interpolates_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("# comment\nPLAT='linux/arm64'\nOTHER=linux/s390x\n")
    (tmp_path / "c.yml").write_text(
        "services:\n  a:\n    build:\n      platforms: [$PLAT, '${OTHER}', '$$x']\n"
    )
    paths = compose.files(["c.yml", "docker-bake.hcl"], {}, str(tmp_path))
    assert paths == [str(tmp_path / "c.yml")]
    assert compose.declared_platforms(paths, {"OTHER": "linux/amd64"}) == {
        "a": ("linux/arm64", "linux/amd64", "$x")
    }


def test_unreadable_or_foreign_files_declare_nothing(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text("services: [unclosed\n")
    (tmp_path / "list.yml").write_text("- a\n- b\n")
    (tmp_path / "odd.yml").write_text("services:\n  a: 3\n  b:\n    build: .\n")
    names = ["bad.yml", "list.yml", "odd.yml", "missing.yml"]
    assert compose.declared_platforms([str(tmp_path / n) for n in names], {}) == {}


def test_bake_file_variable_and_defaults(tmp_path: Path) -> None:
    assert compose.files([], {"BUILDX_BAKE_FILE": "x.hcl"}, str(tmp_path)) == []
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    assert compose.files([], {}, str(tmp_path)) == [str(tmp_path / "docker-compose.yml")]
