"""Which buildx plugin the docker CLI runs for `docker buildx`, remembered, and how to run it
the way the CLI does (stdlib `os` only: the `--guard=off` exec path reads it).

`docker buildx bake ARGS` is the docker CLI finding its plugin, running
`docker-buildx docker-cli-plugin-metadata` to validate it, then running
`PLUGIN buildx bake ARGS` with `DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND=docker` (and an
OpenTelemetry resource attribute) in the environment; the plugin's output and exit code are
the command's. Those first two steps cost a call its start-up. Once the probe's `docker info` has
named the plugin, bakeguard runs that last step itself: same binary, arguments, environment
marker, terminal and exit code.

A remembered plugin is used only while nothing that could change the CLI's choice changed:
the docker binary, config.json (it can add plugin folders), the plugin itself and every
folder the CLI searches (a plugin installed or removed changes the folder). It is never
remembered when:
- the docker binary is not an ELF executable (a wrapper script may set up more than it
  runs, so its bakes keep going through it);
- config.json configures plugin hooks (the CLI runs them after a plugin, on a terminal) or
  cannot be read as JSON (the CLI would warn about it on every run).
`BAKEGUARD_PLUGIN_DIRECT=0` turns this off: every buildx call then goes through docker.
"""

from __future__ import annotations

import contextlib
import os

TYPE_CHECKING = False  # typing costs milliseconds on the exec path
if TYPE_CHECKING:
    from collections.abc import Mapping

# set by the docker CLI for the plugins it runs (to its own argv[0]); buildx then acts as a
# plugin: `docker buildx ...` in its usage and errors
PLUGIN_MARK = "DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND"
OTEL_ATTRIBUTES = "OTEL_RESOURCE_ATTRIBUTES"
# what the CLI adds to OTEL_RESOURCE_ATTRIBUTES for `docker buildx` (baggage encoding)
CLI_ATTRIBUTE = "docker.cli.cobra.command_path=docker%20buildx"
SYSTEM_PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)
_KEEP = 16  # entries kept: one per docker binary and config folder in use


def which(name: str, environ: Mapping[str, str]) -> str | None:
    """`name` on environ's PATH, as the shell finds it (shutil.which costs an import of
    shutil, fnmatch and re on the fast paths)."""
    for d in environ.get("PATH", os.defpath).split(os.pathsep):
        p = os.path.join(d or ".", name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def config_dir(environ: Mapping[str, str]) -> str:
    """The docker CLI's configuration folder."""
    return environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


def cache_dir(environ: Mapping[str, str]) -> str:
    """bakeguard's cache folder (the probe's results, the fast paths' verdicts, this file)."""
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "bakeguard", "probe")


def _file(environ: Mapping[str, str]) -> str:
    return os.path.join(cache_dir(environ), "plugins")


def _stamp(path: str) -> str:
    try:
        st = os.stat(path)
    except (OSError, ValueError):  # (ValueError: a NUL in a damaged entry's path)
        return "-"
    return f"{st.st_mtime_ns}.{st.st_size}.{st.st_ino}"


def _entries(environ: Mapping[str, str]) -> list[str]:
    """The remembered lines; none when the file is missing or damaged (not UTF-8, say): a
    file that cannot be read is a miss, and the probe writes it anew."""
    try:
        with open(_file(environ), "rb") as f:
            return f.read().decode().splitlines()
    except (OSError, ValueError):
        return []


def lookup(docker: str, environ: Mapping[str, str]) -> str | None:
    """The plugin `docker buildx` would run, if remembered and nothing changed since."""
    if environ.get("BAKEGUARD_PLUGIN_DIRECT", "1") == "0":
        return None
    config = config_dir(environ)
    for line in _entries(environ):
        fields = line.split("\t")
        # docker, config folder, plugin, then (path, stamp) pairs: the docker binary,
        # config.json and the plugin first (a line cut short watches less: not used)
        if len(fields) < 9 or len(fields) % 2 == 0 or fields[:2] != [docker, config]:
            continue
        pairs = fields[3:]
        if pairs[0:5:2] != [docker, os.path.join(config, "config.json"), fields[2]]:
            continue
        if all(_stamp(pairs[i]) == pairs[i + 1] for i in range(0, len(pairs), 2)):
            return fields[2]
    return None


def refusal(docker: str, plugin: str | None, environ: Mapping[str, str]) -> str | None:
    """Why this setup keeps going through docker, or None when its plugin may run directly."""
    if environ.get("BAKEGUARD_PLUGIN_DIRECT", "1") == "0":
        return "BAKEGUARD_PLUGIN_DIRECT=0"
    if not plugin or not os.access(plugin, os.X_OK):
        return "docker names no buildx plugin"
    if "\t" in docker or "\t" in plugin:
        return "a tab in a path"
    try:
        with open(docker, "rb") as f:
            if f.read(4) != b"\x7fELF":
                return f"{docker} is a wrapper script, not the docker CLI"
    except OSError as e:
        return f"{docker}: {e.strerror}"
    if plugin_dirs(environ) is None:
        return "config.json configures plugin hooks or is not valid JSON"
    return None


def remember(
    docker: str, plugin: str | None, environ: Mapping[str, str], search: list[str] | None = None
) -> bool:
    """Record the plugin the docker CLI named (the probe's `docker info`); False when this
    setup must keep going through docker (see `refusal`). `search`: the plugin folders to
    watch (default: the CLI's)."""
    if refusal(docker, plugin, environ) is not None or plugin is None:
        return False
    config = config_dir(environ)
    watched = [docker, os.path.join(config, "config.json"), plugin]
    watched += plugin_dirs(environ) or [] if search is None else search
    entry = "\t".join([docker, config, plugin, *(x for p in watched for x in (p, _stamp(p)))])
    old = [x for x in _entries(environ) if x.split("\t")[:2] != [docker, config]]
    write_atomic(_file(environ), "\n".join([entry, *old[: _KEEP - 1]]) + "\n")
    return True


def plugin_dirs(environ: Mapping[str, str]) -> list[str] | None:
    """The folders the docker CLI searches for plugins, in its order; None when config.json
    configures plugin hooks or is not valid JSON."""
    import json

    config = config_dir(environ)
    try:
        with open(os.path.join(config, "config.json"), "rb") as f:
            doc = json.loads(f.read() or b"{}")
    except FileNotFoundError:
        doc = {}
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    plugins = doc.get("plugins") or {}
    if not isinstance(plugins, dict) or any(
        not isinstance(v, dict) or v.get("hooks") for v in plugins.values()
    ):
        return None
    extra = doc.get("cliPluginsExtraDirs") or []
    if not isinstance(extra, list):
        return None
    return [*(str(d) for d in extra), os.path.join(config, "cli-plugins"), *SYSTEM_PLUGIN_DIRS]


def plugin_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment the docker CLI gives the plugin it runs."""
    env = dict(environ)
    env[PLUGIN_MARK] = "docker"
    attrs = environ.get(OTEL_ATTRIBUTES)
    env[OTEL_ATTRIBUTES] = f"{attrs},{CLI_ATTRIBUTE}" if attrs else CLI_ATTRIBUTE
    return env


def write_atomic(path: str, text: str) -> None:
    """A cache file, written whole or not at all (a temporary name, then rename), readable
    by its owner alone: 0600, in folders of 0700 from bakeguard's own folder down (a cache
    shows what was built where; what it holds is no other user's to read). A cache that
    cannot be written is skipped silently."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        private_folder(os.path.dirname(path))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with open(fd, "w") as f:
            os.fchmod(fd, 0o600)  # (a temporary file left by an earlier run keeps its mode)
            f.write(text)
        os.replace(tmp, path)
    except (OSError, ValueError):  # (ValueError: a NUL in a path)
        with contextlib.suppress(OSError, ValueError):
            os.unlink(tmp)


def private_folder(folder: str) -> None:
    """`folder` made, and it and every folder between it and bakeguard's own (the nearest
    named `bakeguard` above it) made or left 0700: a folder an older bakeguard made 0755 is
    closed to other users."""
    root = folder
    while os.path.basename(root) != "bakeguard":
        parent = os.path.dirname(root)
        if parent == root:  # not under a bakeguard folder: this one alone
            root = folder
            break
        root = parent
    chain = [folder]
    while chain[-1] != root:
        chain.append(os.path.dirname(chain[-1]))
    base = os.path.dirname(root)
    if base and not os.path.isdir(base):
        os.makedirs(base, mode=0o700, exist_ok=True)  # (XDG asks 0700 of the cache home)
    for d in reversed(chain):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            if os.stat(d).st_mode & 0o077:
                with contextlib.suppress(OSError):  # (another user's folder: left as it is)
                    os.chmod(d, 0o700)
