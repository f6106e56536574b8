"""What a compose file declares, read as compose and bake read it: each service's
`build.platforms` (and `x-bake.platforms`), by the bake target name the service becomes.

buildx before 0.23 ignores `build.platforms` (advisory compose-platforms-ignored): `bake
--print` then shows no platforms and bake pushes the builder's native platform only, over a
tag that may have held all of them. What the user wrote is the expectation, so it is read
here, not taken from what bake resolved.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

from bakeguard.cachekey import COMPOSE_FILES

COMPOSE_SUFFIXES = (".yml", ".yaml")
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}, $VAR; $$ is a dollar
_VAR_PATTERN = (
    r"\$(?:(?P<dollar>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
TYPE_CHECKING = False  # compose.py is imported before a fast path's bake: no typing
if TYPE_CHECKING:
    from typing import Any


def files(given: Sequence[str], environ: Mapping[str, str], cwd: str) -> list[str]:
    """The compose files bake reads for these `--file` values: the given ones that are YAML;
    without any, BUILDX_BAKE_FILE's, else the default names present in `cwd`."""
    names = list(given) or [f for f in environ.get("BUILDX_BAKE_FILE", "").split(os.pathsep) if f]
    if names:
        return [os.path.join(cwd, f) for f in names if f.endswith(COMPOSE_SUFFIXES)]
    return [os.path.join(cwd, f) for f in COMPOSE_FILES if os.path.exists(os.path.join(cwd, f))]


def dotenv(folder: str) -> dict[str, str]:
    """The project's `.env`, which compose reads for interpolation (the environment wins):
    compose-go's dotenv for the plain KEY=VALUE lines bake files use, quotes stripped; read
    to 1 MiB at most (a file bakeguard reads back is bounded)."""
    out: dict[str, str] = {}
    try:
        with open(os.path.join(folder, ".env"), encoding="utf-8") as f:
            lines = f.read(1 << 20).splitlines()
    except (OSError, UnicodeDecodeError):
        return out
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, _, v = line.removeprefix("export ").partition("=")
        v = v.strip()
        if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
            v = v[1:-1]
        out[k.strip()] = v
    return out


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group("dollar"):
            return "$"
        name = m.group("braced") or m.group("bare")
        value = variables.get(name)
        op, arg = m.group("op") or "", m.group("arg") or ""
        # ":-" also replaces an empty value, "-" only a missing one (as compose does)
        unset = not value if op.startswith(":") else value is None
        if op.endswith("-") and unset:
            return interpolate(arg, variables)
        return value or ""

    return re.sub(_VAR_PATTERN, one, text)  # (re caches the compiled pattern)


def _platforms(value: Any, variables: Mapping[str, str]) -> tuple[str, ...]:
    """A compose platforms value (a list, or one string) as bake reads it: each entry may
    itself hold a comma list (buildx's platformutil.Parse splits them)."""
    items = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    out: list[str] = []
    for item in items:
        if isinstance(item, str):
            out += [p.strip() for p in interpolate(item, variables).split(",") if p.strip()]
    return tuple(dict.fromkeys(out))


def declared_platforms(
    paths: Sequence[str], environ: Mapping[str, str]
) -> dict[str, tuple[str, ...]]:
    """target name -> the platforms its compose service declares (later files override
    earlier ones, as compose merges them). A file that cannot be read declares nothing:
    bake itself reports it."""
    import yaml

    found: dict[str, tuple[str, ...]] = {}
    for path in paths:
        variables = {**dotenv(os.path.dirname(path) or "."), **environ}
        try:
            with open(path, encoding="utf-8") as f:
                doc = yaml.safe_load(f)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        services = doc.get("services") if isinstance(doc, dict) else None
        if not isinstance(services, dict):
            continue
        for name, service in services.items():
            build = service.get("build") if isinstance(service, dict) else None
            if not isinstance(build, dict):
                continue
            plats = _platforms(build.get("platforms"), variables)
            xbake = build.get("x-bake")
            if isinstance(xbake, dict):
                plats = tuple(dict.fromkeys(plats + _platforms(xbake.get("platforms"), variables)))
            if plats:
                # bake's target name for a service (buildx bake.sanitizeTargetName)
                found[str(name).replace(".", "_")] = plats
    return found
