"""Where the probe's cache lives and what keys it (stdlib only: the fast path reads it before
anything heavy is imported). The key: the docker binary and buildx plugins (path + mtime),
the builder name, the docker endpoint variables, and the files that name the current builder
and context (content)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Mapping

from bakeguard import locator

TYPE_CHECKING = False  # typing costs milliseconds on the fast paths
if TYPE_CHECKING:
    from typing import Any, TypeGuard

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


def fresh(at: object, ttl: float) -> bool:
    """Was a cache entry written at `at` (its time.time()) less than `ttl` seconds ago? Not
    a number, or a time in the future (a damaged entry would then never expire), is no."""
    if isinstance(at, bool) or not isinstance(at, (int, float)):
        return False
    age = time.time() - at
    return 0 <= age < ttl  # (False for NaN)


write_atomic = locator.write_atomic


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def ttl(environ: Mapping[str, str]) -> float:
    try:
        return float(environ.get("BAKEGUARD_PROBE_TTL", DEFAULT_TTL))
    except ValueError:
        return DEFAULT_TTL


BUILTIN_TABLE = os.path.join(os.path.dirname(__file__), "data", "advisories.toml")
# what the docker driver's BuildKit is taken to be (bakeguard.engines): advisories match it
ENGINE_TABLE = os.path.join(os.path.dirname(__file__), "data", "engine-buildkit.json")


def table_hash(environ: Mapping[str, str]) -> str:
    """The advisory table's identity: the built-in data and the user's files."""
    h = hashlib.sha256(_read(BUILTIN_TABLE))
    h.update(_read(ENGINE_TABLE))
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


# The cached definitions' folder (under bakeguard's cache). "-2": the folder before held
# definitions with their build args' values; it is removed when this one is first written.
DEFINITIONS, OLD_DEFINITIONS = "definitions-2", "definitions"
# attributes of a cache-from / cache-to / output entry that hold a credential (gha's token,
# s3's and azblob's keys, ...), by a part of their name
_CREDENTIAL_WORDS = ("token", "secret", "password", "key")


def holds_secrets(doc: object) -> bool:
    """Does a definition (as `bake --print` prints it, or a generated one) hold a value that
    may be secret, which bakeguard's cache must not keep: a build arg's value (`args = {
    NPM_TOKEN = ... }`: bakeguard cannot tell a token from a version), a credential in a
    cache or output entry, or a URL with a user or password anywhere. `secret` and `ssh`
    entries name where a secret comes from (a variable, a file, an agent), never its value."""
    if not isinstance(doc, dict) or not isinstance(doc.get("target"), dict):
        return True  # (not a definition: nothing of it is kept)
    for t in doc["target"].values():
        if not isinstance(t, dict):
            return True
        args = t.get("args")
        if isinstance(args, dict) and any(v not in (None, "") for v in args.values()):
            return True
        if args is not None and not isinstance(args, dict):
            return True
        for key in ("cache-from", "cache-to", "output"):
            if any(_credential(e) for e in t.get(key) or ()):
                return True
        if _userinfo(t):
            return True
    return False


def _credential(entry: object) -> bool:
    if isinstance(entry, dict):
        keys = [str(k) for k in entry]
    else:
        keys = [f.partition("=")[0] for f in str(entry).split(",")]
    return any(w in k.strip().lower() for k in keys for w in _CREDENTIAL_WORDS)


def _userinfo(value: object) -> bool:
    """A URL naming a user (and maybe a password) anywhere in `value`."""
    if isinstance(value, str):
        at = value.find("://")
        while at >= 0:
            end = len(value)
            for stop in "/ ,\"'?#":
                i = value.find(stop, at + 3)
                if i >= 0:
                    end = min(end, i)
            if "@" in value[at + 3 : end]:
                return True
            at = value.find("://", at + 3)
        return False
    if isinstance(value, dict):
        return any(_userinfo(v) for v in value.values())
    if isinstance(value, list):
        return any(_userinfo(v) for v in value)
    return False


def write_definition(path: str, text: str, doc: object) -> None:
    """Cache a printed definition (`text`, read as `doc`), unless it holds a value that may
    be secret (then no file is kept for it: the next run prints it again). The folder of
    older bakeguards, whose files kept build args, is removed on the first write."""
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        import shutil

        shutil.rmtree(os.path.join(os.path.dirname(folder), OLD_DEFINITIONS), ignore_errors=True)
    if holds_secrets(doc):
        with contextlib.suppress(OSError):
            os.unlink(path)
        return
    write_atomic(path, text)
    with contextlib.suppress(OSError):
        prune(folder)


def prune(folder: str, keep: int = 200) -> None:
    """Keep the newest `keep` cached definitions."""
    files = [os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".json")]
    files.sort(key=os.path.getmtime, reverse=True)
    for old in files[keep:]:
        with contextlib.suppress(OSError):
            os.unlink(old)


def _strs(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


def is_definition(doc: object) -> TypeGuard[dict[str, Any]]:
    """A bake definition as `bake --print` prints it (and as a split generates it), in every
    part bakeguard reads: what a cache holds is used only if it is one."""
    if not isinstance(doc, dict):
        return False
    targets, groups = doc.get("target"), doc.get("group", {})
    if not isinstance(targets, dict) or not isinstance(groups, dict):
        return False
    for t in targets.values():
        if not isinstance(t, dict):
            return False
        for key in ("tags", "platforms", "annotations"):
            if t.get(key) is not None and not _strs(t[key]):
                return False
        for key in ("output", "attest"):
            value = t.get(key)
            if value is not None and not (
                isinstance(value, list) and all(isinstance(x, (str, dict)) for x in value)
            ):
                return False
    return all(
        isinstance(g, dict) and (g.get("targets") is None or _strs(g["targets"]))
        for g in groups.values()
    )


def read_json(path: str) -> Any:
    """A cache file's JSON, or None when it cannot be read as JSON (damaged, truncated, not
    UTF-8, a folder, ...): a cache that cannot be read is a miss."""
    import json

    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def read_definition(path: str) -> str | None:
    """A cached `bake --print` output (its text), or None when missing or not a definition."""
    import json

    try:
        with open(path, "rb") as f:
            text = f.read().decode()
        doc = json.loads(text)
    except (OSError, ValueError):
        return None
    return text if is_definition(doc) else None
