"""How registry hosts and compatibility profiles are written, read and compared, one way for
every reader (BAKEGUARD_COMPAT / --guard-compat, before anything runs and in a push; the
remembered profiles; `--guard-forget-compat`). Light on purpose: option parsing and the
remembered profiles' file use it before bake starts (no dataclasses, no typing).

A host is compared as docker names a registry: the docker CLI's ConvertToHostname
(docker/cli, cli/config/credentials/file_store.go) takes the host of
`https://HOST[:PORT]/...` and cuts a bare name at its first `/`, so `HOST/` is HOST; the
engine's index name for Docker Hub is docker.io whatever alias was written
(`index.docker.io`: moby, registry/config.go, ValidateIndexName; `registry-1.docker.io`, the
API host bakeguard's references already fold into it). Host names are compared without
case, as DNS compares them (RFC 4343), and `HOST:443` is HOST: 443 is the port docker reaches
a registry's HTTPS endpoint on when the name gives none."""

from __future__ import annotations

from bakeguard.errors import UsageError

PROFILES = ("docker-v2", "no-attestations", "no-oci-artifact", "oci")
# the profiles a remembered entry may name (less "oci": a host that needs nothing is never
# taught)
REMEMBERED = ("docker-v2", "no-attestations", "no-oci-artifact")
_HUB_ALIASES = ("index.docker.io", "registry-1.docker.io")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")


def host_key(value: str) -> str:
    """A registry host as it is compared (see the module's note)."""
    host = value.strip()
    if "://" in host:
        host = host.split("://", 1)[1]
    host = host.split("/", 1)[0].lower()
    if host.endswith(":443"):
        host = host[: -len(":443")]
    return "docker.io" if host in _HUB_ALIASES else host


def is_host(host: str) -> bool:
    """A registry host as a reference names one, compared form (`host_key`): a DNS name or
    an IPv4 address, or an IPv6 address in brackets, then maybe `:PORT`."""
    if not host or len(host) > 255:
        return False
    if host.startswith("["):
        addr, close, rest = host[1:].partition("]")
        ok = bool(addr) and close == "]" and all(c in "0123456789abcdef:." for c in addr)
        return ok and (rest == "" or _is_port(rest))
    name, colon, port = host.partition(":")
    if colon and not _is_port(colon + port):
        return False
    labels = name.split(".")
    return all(
        0 < len(label) <= 63
        and set(label) <= _NAME_CHARS
        and not label.startswith("-")
        and not label.endswith("-")
        for label in labels
    )


def _is_port(text: str) -> bool:
    digits = text[1:]
    return text.startswith(":") and digits.isdigit() and 0 < int(digits) < 65536


def parse(value: str, source: str = "BAKEGUARD_COMPAT") -> tuple[str | None, dict[str, str]]:
    """`PROFILE` (every host) and `host[:port]=PROFILE` entries, comma-separated: (the
    profile for every host, {host: profile}). An unknown profile, an entry without a host
    before its `=`, a host docker would not name, and a host (or the every-host profile)
    given twice are exit 2, naming the entry."""
    default: str | None = None
    hosts: dict[str, str] = {}
    given: dict[str, str] = {}  # compared host -> the entry that named it
    for item in (x.strip() for x in value.split(",")):
        if not item:
            continue
        host, eq, profile = item.rpartition("=")
        profile = profile.strip()
        if profile not in PROFILES:
            raise UsageError(
                f"{source}: unknown compatibility profile {profile!r} in {item!r}",
                f"use one of {', '.join(PROFILES)}, as PROFILE or host[:port]=PROFILE",
            )
        fix = f"write {source} as PROFILE (every host) or host[:port]=PROFILE, comma-separated"
        if eq and not host.strip():
            raise UsageError(f"{source}: the entry {item!r} names no host before its '='", fix)
        key = host_key(host) if eq else ""
        if eq and not is_host(key):
            raise UsageError(f"{source}: {host.strip()!r} in {item!r} is not a registry host", fix)
        if key in given:
            what = f"the host {key}" if key else "the profile for every host"
            raise UsageError(
                f"{source}: {what} is given twice, by {given[key]!r} and {item!r}",
                "give each host (and the profile for every host) once",
            )
        given[key] = item
        if key:
            hosts[key] = profile
        else:
            default = profile
    return default, hosts


def strip_step(line: str) -> str:
    """An error line of bake's without its progress prefix (`#6 ERROR: x` and
    `#6 12.3 ERROR: x` are `x`): the registry's own words, as they are remembered and
    shown."""
    text = line.strip()
    head, space, rest = text.partition(" ")
    if space and head.startswith("#") and head[1:].isdigit():
        text = rest.lstrip()
        first, space, after = text.partition(" ")
        if space and first.replace(".", "", 1).isdigit():  # (a step's seconds)
            text = after.lstrip()
    for prefix in ("ERROR: ", "error: "):
        if text.startswith(prefix):
            text = text[len(prefix) :].lstrip()
    return text
