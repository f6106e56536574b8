"""The GitHub Action's run script: `python -m bakeguard.action`, which action.yml (at the
repository root) runs from a virtualenv it installed from the action's own checkout.

Inputs arrive as environment variables, INPUT_<NAME> (`no-cache` is INPUT_NO_CACHE): the
step's `env:` maps each `${{ inputs.name }}` there and its `run:` holds no expression, so no
input is ever shell code, whatever characters it has. They are read as docker/bake-action
reads its own, so a workflow can switch by changing the `uses:` line (bake-action's
src/context.ts getInputs; @docker/actions-toolkit's Util.getInputList and
Build.getProvenanceInput): lists split at newlines and commas (`set` at newlines only, its
values keep their commas), each item trimmed, blank ones dropped; booleans as YAML 1.2 writes
them; `provenance: true` names this workflow run as the builder. bakeguard's own inputs
(guard, split, verify, compat, report) become its `--guard-*` flags; empty ones leave its
variables and defaults in charge.

bakeguard then runs as a child, its output, step summary, annotations and exit code its own.
Afterwards the step's outputs go to $GITHUB_OUTPUT, each in the runner's multi-line form
(`name<<DELIMITER`) with a random delimiter that the value does not contain, so no value can
end early or set another output: `metadata` (bake's metadata file, as bake-action sets it),
`digests` (target -> tag -> platform -> digest, from the report's
`verification[].platform_manifests`: what the registry's index holds), `report` (its path)
and `verified` (true only when every pushed tag was read back whole and the run exited 0)."""

from __future__ import annotations

import csv
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping
from typing import Any, NamedTuple

from bakeguard import log
from bakeguard.errors import UsageError
from bakeguard.report import read_object

# Each input of action.yml and how it is read: a list (newlines and commas), lines (newlines
# only), a YAML boolean, or text.
INPUTS: dict[str, str] = {
    "builder": "text",
    "files": "list",
    "workdir": "text",
    "targets": "list",
    "no-cache": "bool",
    "pull": "bool",
    "load": "bool",
    "provenance": "text",
    "push": "bool",
    "sbom": "text",
    "set": "lines",
    "guard": "text",
    "split": "text",
    "verify": "text",
    "compat": "list",
    "report": "text",
}
OUTPUTS = ("metadata", "digests", "report", "verified")

# the YAML 1.2 core schema's booleans, which the runner's core.getBooleanInput accepts
TRUE_YAML = ("true", "True", "TRUE")
FALSE_YAML = ("false", "False", "FALSE")

# GitHub keeps an output up to 1 MiB; a larger metadata file is named in the log instead
MAX_OUTPUT = 1 << 20


def env_name(name: str) -> str:
    """The variable an input arrives in: INPUT_ and its name, upper case, `-` as `_`."""
    return "INPUT_" + name.upper().replace("-", "_")


def input_list(raw: str, ignore_comma: bool = False) -> list[str]:
    """A list input as bake-action reads it: CSV records, one a line (a quoted field may hold
    a comma or a newline), every field an item, or with `ignore_comma` every line one item
    whose commas are kept; items trimmed, blank ones dropped."""
    items: list[str] = []
    for record in csv.reader(raw.splitlines(keepends=True), strict=False):
        if not record:
            continue
        if ignore_comma:
            items.append(",".join(record))
        elif len(record) == 1:
            items += record[0].split(",")
        else:
            items += record
    return [i.strip() for i in items if i.strip()]


def boolean(name: str, raw: str) -> bool:
    if raw in TRUE_YAML:
        return True
    if raw in FALSE_YAML or raw == "":
        return False
    raise UsageError(
        f"action input {name}: {raw!r} is not a boolean",
        f"give {name}: true or {name}: false",
    )


def run_url(environ: Mapping[str, str]) -> str | None:
    """This workflow run's address with its attempt, as bake-action names the builder; None
    outside a run."""
    repo, run_id = environ.get("GITHUB_REPOSITORY"), environ.get("GITHUB_RUN_ID")
    if not repo or not run_id:
        return None
    server = environ.get("GITHUB_SERVER_URL") or "https://github.com"
    attempt = environ.get("GITHUB_RUN_ATTEMPT") or "1"
    return f"{server}/{repo}/actions/runs/{run_id}/attempts/{attempt}"


def provenance(raw: str, environ: Mapping[str, str]) -> str | None:
    """bake's --provenance for the input (bake-action's Build.getProvenanceInput): empty,
    nothing (buildx's own default); true, provenance naming this run as its builder; false,
    none; attributes, those with the builder added unless they name one."""
    if not raw:
        return None
    url = run_url(environ)
    if raw in TRUE_YAML:
        return f"builder-id={url}" if url else "true"
    if raw in FALSE_YAML:
        return "false"
    fields = next(csv.reader([raw.splitlines()[0]]), [])
    if url is None or any(f.split("=", 1)[0].strip() == "builder-id" for f in fields):
        return raw
    return f"{raw},builder-id={url}"


class Plan(NamedTuple):
    argv: list[str]  # bakeguard's arguments
    workdir: str
    report: str
    metadata: str


def plan(environ: Mapping[str, str], tmp: str) -> Plan:
    """bakeguard's arguments from the inputs, in bake-action's order, bakeguard's first."""

    def get(name: str) -> str:
        return environ.get(env_name(name), "").strip()

    workdir = os.path.abspath(get("workdir") or ".")
    if not os.path.isdir(workdir):
        raise UsageError(
            f"action input workdir: {workdir!r} is not a folder",
            "give workdir as a folder of the checkout, or leave it empty for the workspace",
        )
    report = get("report")
    if report == "-":
        raise UsageError(
            "action input report: '-' (stdout) leaves the action no report to read",
            "give report a file path, or leave it empty",
        )
    report = os.path.join(workdir, report) if report else os.path.join(tmp, "report.json")
    metadata = os.path.join(tmp, "metadata.json")
    argv = [
        f"{flag}={value}"
        for flag, value in (
            ("--guard", get("guard")),
            ("--guard-split", get("split")),
            ("--guard-verify", get("verify")),
            ("--guard-compat", ",".join(input_list(get("compat")))),
        )
        if value
    ]
    argv.append(f"--guard-report={report}")
    for f in input_list(get("files")):
        argv += ["--file", f]
    for s in input_list(get("set"), ignore_comma=True):
        argv += ["--set", s]
    argv += ["--metadata-file", metadata]
    prov = provenance(get("provenance"), environ)
    argv += ["--provenance", prov] if prov else []
    argv += ["--sbom", get("sbom")] if get("sbom") else []
    argv += ["--no-cache"] if boolean("no-cache", get("no-cache")) else []
    argv += ["--builder", get("builder")] if get("builder") else []
    for flag in ("pull", "load", "push"):
        argv += [f"--{flag}"] if boolean(flag, get(flag)) else []
    targets = input_list(get("targets"))
    for t in targets:
        if t.startswith("-"):
            raise UsageError(
                f"action input targets: {t!r} is not a target name",
                "give bake's options through the action's other inputs",
            )
    return Plan(argv + targets, workdir, report, metadata)


def run(argv: list[str], workdir: str, environ: Mapping[str, str]) -> int:
    """bakeguard with these arguments, its exit code (128+N when signal N ended it). A signal
    this script gets (the runner cancelling) is passed on, and bakeguard ends as it does."""
    env = {k: v for k, v in environ.items() if k not in {env_name(n) for n in INPUTS}}
    child = subprocess.Popen([sys.executable, "-m", "bakeguard", *argv], cwd=workdir, env=env)

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    caught = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, forward) for s in caught}
    try:
        code = child.wait()
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    return code if code >= 0 else 128 - code


def digests(doc: Mapping[str, Any] | None) -> dict[str, dict[str, dict[str, str]]]:
    """target -> tag -> platform -> manifest digest, as the registry's index holds them
    (the report's verification[].platform_manifests); only well-formed entries."""
    found: dict[str, dict[str, dict[str, str]]] = {}
    for o in (doc or {}).get("verification") or []:
        if not (isinstance(o, dict) and isinstance(o.get("target"), str)):
            continue
        if not isinstance(o.get("ref"), str):
            continue
        per = found.setdefault(o["target"], {}).setdefault(o["ref"], {})
        for p in o.get("platform_manifests") or []:
            if isinstance(p, dict) and all(
                isinstance(p.get(k), str) for k in ("platform", "digest")
            ):
                per[p["platform"]] = p["digest"]
    return found


def verified(doc: Mapping[str, Any] | None, code: int) -> bool:
    """Every pushed tag read back whole (and at least one was), in a run that exited 0."""
    ver = (doc or {}).get("verification")
    if not isinstance(ver, list) or not ver:
        return False
    return code == 0 and all(isinstance(o, dict) and o.get("ok") is True for o in ver)


def metadata(path: str) -> str | None:
    """bake's metadata file as bake-action sets its output: absent, empty or `null` is no
    output; past GitHub's output limit, the log names the file instead."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read(MAX_OUTPUT + 1)
    except OSError:
        return None
    if len(text) > MAX_OUTPUT:
        log.get().warning(
            [f"bake's metadata is over {MAX_OUTPUT} bytes: not set as the metadata output", path]
        )
        return None
    return text if text.strip() not in ("", "null") else None


def outputs(p: Plan, code: int) -> dict[str, str]:
    doc = read_object(p.report) if os.path.isfile(p.report) else None
    out = {}
    meta = metadata(p.metadata)
    if meta is not None:
        out["metadata"] = meta
    out["digests"] = json.dumps(digests(doc), sort_keys=True)
    out["report"] = p.report if doc is not None else ""
    out["verified"] = "true" if verified(doc, code) else "false"
    return out


def delimiter(value: str) -> str:
    """A random heredoc delimiter the value does not contain (as @actions/core makes one)."""
    while True:
        d = f"ghadelimiter_{uuid.uuid4()}"
        if d not in value:
            return d


def write_outputs(environ: Mapping[str, str], values: Mapping[str, str]) -> bool:
    """The step's outputs, appended to $GITHUB_OUTPUT; False when they could not be."""
    path = environ.get("GITHUB_OUTPUT")
    if not path:
        log.get().warning("GITHUB_OUTPUT is not set (not in a GitHub Actions step): no outputs")
        return True
    text = ""
    for name, value in values.items():
        d = delimiter(value)
        text += f"{name}<<{d}\n{value}\n{d}\n"
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        log.get().error([f"cannot write the step's outputs to {path}", str(e)])
        return False
    return True


def main(environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    log.configure(environ=environ)
    where = environ.get("RUNNER_TEMP", "")
    tmp = tempfile.mkdtemp(prefix="bakeguard-action-", dir=where if os.path.isdir(where) else None)
    try:
        p = plan(environ, tmp)
    except UsageError as e:
        log.get().error(e.lines())
        write_outputs(environ, {"digests": "{}", "report": "", "verified": "false"})
        return e.exit_code
    log.get().info(["running: bakeguard " + shlex.join(p.argv)])
    code = run(p.argv, p.workdir, environ)
    if not write_outputs(environ, outputs(p, code)):
        return code or 1
    return code


if __name__ == "__main__":
    raise SystemExit(main())
