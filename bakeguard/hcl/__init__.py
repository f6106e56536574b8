"""The offline reading of bake definitions for `--guard-plan` when docker cannot resolve them:
the files bake would read (the given ones, else BUILDX_BAKE_FILE, else bake's default names:
compose files, then docker-bake.json, .hcl, .override.json, .override.hcl), each read as
compose, HCL or HCL's JSON syntax and evaluated with bake's semantics, then resolved as
`bake --print` resolves them. What cannot be read is a Refusal naming it and its file:line.

Modules: parser/template/jsonsyntax (text -> syntax tree), evaluate + funcs_* (expressions and
bake's function library), variables/bake (the blocks), target/overrides/resolve (merging,
`--set`, `--push`, `target:` contexts), composefile (compose)."""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bakeguard.hcl.values import HclError, Refusal

COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
BAKE_NAMES = (
    "docker-bake.json",
    "docker-bake.hcl",
    "docker-bake.override.json",
    "docker-bake.override.hcl",
)
_REMOTE = re.compile(r"^(https?://|git://|git@|github\.com/|ssh://)")  # (resolve.REMOTE)
_MAX_FILE = 16 << 20
_TRUE = ("1", "t", "T", "TRUE", "true", "True")

__all__ = ["HclError", "Refusal", "Request", "read"]


@dataclass(frozen=True)
class Request:
    """What the bake invocation asks: its files, targets, --set, --var and flags."""

    files: Sequence[str] = ()
    targets: Sequence[str] = ()
    sets: Sequence[str] = ()
    variables: Sequence[str] = ()
    push: bool = False
    load: bool = False
    sbom: str | None = None
    provenance: str | None = None
    call: str | None = None  # --call, or `check` for --check
    no_cache: bool | None = None  # --no-cache[=BOOL], when given
    pull: bool | None = None  # --pull[=BOOL], when given
    environ: Mapping[str, str] = field(default_factory=dict)


def local_platform() -> str:
    """BAKE_LOCAL_PLATFORM: containerd's platforms.DefaultSpec() of this machine."""
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        machine, machine
    )
    if machine.startswith("armv"):
        return f"linux/arm/v{machine[4]}"
    return f"{platform.system().lower()}/{arch}" + ("/v8" if arch == "arm64" else "")


def file_names(req: Request, cwd: Path) -> list[str]:
    names = [f.removeprefix("cwd://") for f in req.files]
    if not names and "BUILDX_BAKE_FILE" in req.environ:
        sep = req.environ.get("BUILDX_BAKE_PATH_SEPARATOR") or os.pathsep
        names = [f.strip() for f in req.environ["BUILDX_BAKE_FILE"].split(sep) if f.strip()]
    if not names:
        names = [f for f in (*COMPOSE_NAMES, *BAKE_NAMES) if (cwd / f).is_file()]
    for n in names:
        if n == "-":
            raise Refusal("a bake definition on stdin (-f -) is read only by buildx")
        if _REMOTE.match(n):
            raise Refusal(f"a remote bake definition ({n}) is read only by buildx")
    if not names:
        raise HclError(
            "couldn't find a bake definition (no -f and none of bake's default names here)"
        )
    return names


def _flag_overrides(req: Request) -> list[str]:
    """bake's flags as the overrides bake turns them into (commands/bake.go runBake)."""
    out: list[str] = []
    if req.push:
        out.append("*.push=true")
    if req.load:
        out.append("*.load=true")
    call = {"check": "lint", "build": ""}.get(req.call or "", req.call)  # ParseCallFunc
    if call:
        out.append(f"*.call={call}")
    for key, flag in (("no-cache", req.no_cache), ("pull", req.pull)):
        if flag is not None:
            out.append(f"*.{key}={'true' if flag else 'false'}")
    for kind, value in (("sbom", req.sbom), ("provenance", req.provenance)):
        if value:
            if value in _TRUE or value in ("0", "f", "F", "FALSE", "false", "False"):
                out.append(f"*.attest=type={kind},disabled={'false' if value in _TRUE else 'true'}")
            else:
                out.append(f"*.attest=type={kind},{value}")
    return out


def _kind(name: str, text: str) -> str:
    """compose, json or hcl, as bake tells them: by the name's ending, else by content
    (bake tries compose, then HCL, then JSON)."""
    lower = name.lower()
    if lower.endswith((".yml", ".yaml")):
        return "compose"
    if lower.endswith((".json", ".hcl")):
        return lower.rsplit(".", 1)[1]
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("services"), dict):
        return "compose"
    return "json" if text.lstrip().startswith("{") else "hcl"


def read(req: Request, cwd: Path) -> dict[str, object]:
    """The definition as `docker buildx bake --print` would print it."""
    from bakeguard.hcl.bake import Config, Inputs, Reader
    from bakeguard.hcl.checks import check
    from bakeguard.hcl.composefile import read as read_compose
    from bakeguard.hcl.jsonsyntax import parse as parse_json
    from bakeguard.hcl.parser import parse as parse_hcl
    from bakeguard.hcl.resolve import read_targets

    if req.targets and _REMOTE.match(req.targets[0]):
        raise Refusal(f"a remote bake definition ({req.targets[0]}) is read only by buildx")
    variables = dict(v.partition("=")[::2] for v in req.variables if v)
    config = Config()
    compose: list[tuple[str, Path]] = []
    bodies = []
    for name in file_names(req, cwd):
        try:
            with open(cwd / name, encoding="utf-8") as f:
                text = f.read(_MAX_FILE + 1)
        except (OSError, UnicodeDecodeError) as e:
            raise HclError(f"cannot read the bake file: {e}", name) from e
        if len(text) > _MAX_FILE:
            raise Refusal("a bake file over 16 MB", name)
        kind = _kind(name, text)
        if kind == "compose":
            compose.append((name, cwd / name))
        else:
            bodies.append(parse_json(text, name) if kind == "json" else parse_hcl(text, name))
    if compose:
        for t in read_compose(compose, req.environ, variables, cwd):
            config.add_target(t)
        config.groups["default"] = list(config.targets)
    if bodies:
        off = req.environ.get("BUILDX_BAKE_DISABLE_VARS_ENV_LOOKUP", "") in _TRUE
        builtins = {"BAKE_CMD_CONTEXT": "cwd://", "BAKE_LOCAL_PLATFORM": local_platform()}
        Reader(bodies, Inputs(variables, req.environ, not off, builtins)).config(config)
    sets = [*req.sets, *_flag_overrides(req)]
    epoch = req.environ.get("SOURCE_DATE_EPOCH", "")
    wanted = list(req.targets) or ["default"]
    return read_targets(config, wanted, sets, epoch, lambda t: check(t, cwd, req.environ))
