"""Where the probe's cache lives and what keys it (stdlib only: the fast path reads it before
anything heavy is imported). The key: the docker binary and buildx plugins (path + mtime),
the builder name, the docker endpoint variables, and the files that name the current builder
and context (content)."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Mapping

from bakeguard import locator

DEFAULT_TTL = 60.0


def builder_name(bake_builder: str | None, environ: Mapping[str, str]) -> str | None:
    """Which builder bake will use: --builder, then BUILDX_BUILDER, then the current one."""
    return bake_builder or environ.get("BUILDX_BUILDER") or None


def probe_key(binary: str, name: str | None, environ: Mapping[str, str]) -> str:
    parts: list[str] = [binary, str(name)]
    for var in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "BUILDX_CONFIG"):
        parts.append(f"{var}={environ.get(var, '')}")
    config = locator.config_dir(environ)
    buildx = environ.get("BUILDX_CONFIG") or os.path.join(config, "buildx")
    plugins = (f"{d}/docker-buildx" for d in (f"{config}/cli-plugins", *locator.SYSTEM_PLUGIN_DIRS))
    for f in (binary, *plugins):
        try:
            parts.append(f"{f}@{os.stat(f).st_mtime_ns}")
        except OSError:
            continue
    # `docker buildx use` rewrites buildx/current, `docker context use` config.json: a builder
    # switched that way is another builder, whatever the variables say. By content: buildx
    # rewrites buildx/current, unchanged, on every bake.
    for f in (f"{buildx}/current", f"{config}/config.json"):
        try:
            parts.append(f"{f}#{hashlib.sha256(_read(f)).hexdigest()}")
        except OSError:
            continue
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]


cache_dir = locator.cache_dir


def write_atomic(path: str, text: str) -> None:
    """A cache file, written whole or not at all (a temporary name, then rename); a cache
    that cannot be written is skipped silently."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def ttl(environ: Mapping[str, str]) -> float:
    try:
        return float(environ.get("BAKEGUARD_PROBE_TTL", DEFAULT_TTL))
    except ValueError:
        return DEFAULT_TTL


BUILTIN_TABLE = os.path.join(os.path.dirname(__file__), "data", "advisories.toml")


def table_hash(environ: Mapping[str, str]) -> str:
    """The advisory table's identity: the built-in data and the user's files."""
    h = hashlib.sha256(_read(BUILTIN_TABLE))
    for p in filter(None, environ.get("BAKEGUARD_ADVISORIES", "").split(os.pathsep)):
        h.update(p.encode())
        try:
            h.update(_read(p))
        except OSError:
            h.update(b"missing")
    return h.hexdigest()[:24]


# shell bookkeeping that differs between otherwise identical invocations
_VOLATILE = {"_", "SHLVL", "OLDPWD", "PWD", "COLUMNS", "LINES", "TERM_SESSION_ID"}
# the files bake reads from the working directory when no -f is given, in its order
COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
BAKE_FILES = (
    "docker-bake.json",
    "docker-bake.override.json",
    "docker-bake.hcl",
    "docker-bake.override.hcl",
)
DEFAULT_FILES = (*COMPOSE_FILES, *BAKE_FILES, ".env")
_NOT_CACHEABLE = (b"timestamp(", b"uuidv4(", b"uuid(")


def definition_key(
    binary: str, argv: list[str], files: list[str], environ: Mapping[str, str], cwd: str
) -> str | None:
    """The identity of what `bake --print` would print, or None when it cannot be cached:
    a remote definition, or files that call timestamp()/uuidv4()."""
    if any("://" in a or a.startswith("git@") for a in argv):
        return None
    h = hashlib.sha256()
    h.update(probe_key(binary, None, environ).encode())
    for part in (cwd, *argv):
        h.update(part.encode() + b"\0")
    for k in sorted(environ):
        if k not in _VOLATILE:
            h.update(f"{k}={environ[k]}\0".encode())
    env_files = [f for f in environ.get("BUILDX_BAKE_FILE", "").split(os.pathsep) if f]
    for f in sorted({*files, *env_files, *DEFAULT_FILES}):
        try:
            data = _read(os.path.join(cwd, f))
        except OSError:
            h.update(f"{f}:absent\0".encode())
            continue
        if any(word in data for word in _NOT_CACHEABLE):
            return None
        h.update(f"{f}:".encode() + hashlib.sha256(data).digest())
    return h.hexdigest()[:32]


def prune(folder: str, keep: int = 200) -> None:
    """Keep the newest `keep` cached definitions."""
    files = [os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".json")]
    files.sort(key=os.path.getmtime, reverse=True)
    for old in files[keep:]:
        with contextlib.suppress(OSError):
            os.unlink(old)
