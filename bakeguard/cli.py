"""`bakeguard ARGS` = `docker buildx bake ARGS`, guarded. Errors become exit codes here, and
only here.

`--guard=off` with nothing else of bakeguard's set is pure pass-through: bakeguard replaces
itself with `docker buildx bake ARGS` (exec), or with the buildx plugin that command runs,
exec'd as the docker CLI runs it (bakeguard.locator), so signals, terminal and exit code are
bake's own. That path imports nothing but os, sys, the locator and the option reader."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing itself is not imported on the exec path
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Mapping, Sequence

    from bakeguard.bakeargs import BakeArgs
    from bakeguard.docker import Docker, Result
    from bakeguard.options import GuardOptions


def _exec_args(args: Sequence[str], environ: Mapping[str, str]) -> list[str] | None:
    """bake's arguments when this is a plain `--guard=off` run (no other bakeguard option or
    variable set: those are validated by the full parse even with the guard off), else None.
    The one reading of bakeguard's options, options.split_guard_args, tells them apart."""
    from bakeguard.bakeargs import TRUE_WORDS
    from bakeguard.errors import UsageError
    from bakeguard.options import FALSE_WORDS, GUARD_SPECS, split_guard_args

    try:
        found, rest = split_guard_args(args)
    except UsageError:
        return None  # the full parse says what is wrong
    guard = found.pop("--guard", environ.get("BAKEGUARD_GUARD"))
    others = any(s.env and s.env not in _NOT_FOR_BAKE and environ.get(s.env) for s in GUARD_SPECS)
    memory = environ.get("BAKEGUARD_COMPAT_MEMORY", "").lower()
    bad_memory = memory not in TRUE_WORDS + FALSE_WORDS  # (the full parse says so: exit 2)
    return rest if guard == "off" and not found and not others and not bad_memory else None


# Variables that change nothing of a plain bake: a runner may set them for every job (the
# memory of registry profiles, off where runners share a cache) without losing the exec.
_NOT_FOR_BAKE = ("BAKEGUARD_GUARD", "BAKEGUARD_COMPAT_MEMORY")


def main(argv: Sequence[str] | None = None) -> int:
    code = _main(argv)
    if argv is None:
        # The command itself (not a caller in-process): every child and temporary file is
        # done with by now, so leave without tearing down the modules a run imported; that
        # teardown is work on every push that nothing needs.
        for stream in (sys.stdout, sys.stderr):
            try:  # noqa: SIM105
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    return code


def _main(argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    bake_args = _exec_args(args, os.environ)
    if bake_args is not None and argv is None:
        from bakeguard import locator

        docker = os.environ.get("BAKEGUARD_DOCKER") or locator.which("docker", os.environ)
        if docker:
            plugin = locator.lookup(docker, os.environ)
            try:
                if plugin:  # what `docker buildx bake` would run, run as docker runs it
                    env = locator.plugin_env(os.environ)
                    os.execve(plugin, [plugin, "buildx", "bake", *bake_args], env)
                os.execv(docker, [docker, "buildx", "bake", *bake_args])
            except OSError:
                pass  # fall through: the full path reports the error clearly
    from bakeguard.errors import EXIT_INTERRUPTED, BakeguardError

    try:
        from bakeguard import options
        from bakeguard.interrupts import Interrupted

        try:
            opts, bake = options.parse(args)
            return dispatch(opts, bake)
        except Interrupted as e:
            return e.code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BakeguardError as e:
        from bakeguard import log

        log.configure()
        log.get().error(e.lines())
        if not e.reported:
            _report_anyway(args, e.exit_code)
        return e.exit_code


def _report_anyway(args: Sequence[str], code: int) -> None:
    """A run that ended in an error before its session wrote the report (a bad option, a
    command without a session): the report still says how it ended, when `--guard-report`
    (or BAKEGUARD_REPORT) names a file that can be written. Its guard: the policy the
    arguments name, when they name a valid one, else the default."""
    import contextlib

    from bakeguard import __version__, report
    from bakeguard.options import GUARD_MODES

    found = {"--guard-report": os.environ.get("BAKEGUARD_REPORT", "")}
    found["--guard"] = os.environ.get("BAKEGUARD_GUARD", "")
    for i, a in enumerate(args):  # (by hand: the options' own reading may be what failed)
        if a == "--":
            break
        name, eq, value = a.partition("=")
        if name in found and (eq or i + 1 < len(args)):
            found[name] = value if eq else args[i + 1]
    path, guard = found["--guard-report"], found["--guard"]
    if not path:
        return
    doc = {
        "schema": report.SCHEMA,
        "bakeguard": __version__,
        "guard": guard if guard in GUARD_MODES else "auto",
        "exit_code": code,
    }
    with contextlib.suppress(OSError, ValueError):  # (a path the error said is unusable)
        report.write(path, doc)


def command(opts: GuardOptions) -> str:
    """Which thing this run does: the first special option set, else a build."""
    for name in (
        "advisories",
        "version",
        "forget_compat",
        "doctor",
        "plan",
        "install_plugin",
        "merge",
    ):
        if getattr(opts, name):
            return name
    return "verify_only" if opts.verify_only else "build"


def dispatch(opts: GuardOptions, bake: BakeArgs) -> int:
    """The one dispatcher. A build with the guard off, or one that builds nothing, is bake
    itself; a build that a recent run remembered starts bake at once (bakeguard.memo, the
    fast paths in bakeguard.fastpath); any other starts `bake --print` before the rest of
    bakeguard is imported, then runs its command."""
    from bakeguard.docker import Docker

    name = command(opts)
    if name == "build" and (opts.guard == "off" or bake.passthrough_only):
        return Docker.from_env().run_bake(bake.argv)
    if name not in ("build", "doctor", "plan", "verify_only"):  # (these read no definition)
        return run(name, opts, bake)
    from bakeguard import streams

    bake, definitions = streams.take(bake)  # `-f -`, a FIFO ...: read once, for every bake
    try:
        if name != "build":
            return run(name, opts, bake, definitions=definitions)
        return _build(opts, bake, definitions)
    finally:
        streams.remove(definitions)


def _build(opts: GuardOptions, bake: BakeArgs, definitions: str | None) -> int:
    from bakeguard import fastpath, memo
    from bakeguard.docker import Docker

    runner = Docker.from_env()
    runner.definitions = definitions
    request = memo.PrintRequest(runner, bake, os.environ)
    entry = memo.split_entry(opts, bake, runner, os.environ, request)
    if entry is not None:
        return fastpath.run_split(opts, bake, runner, entry)
    if memo.eligible(opts, bake, runner, os.environ):
        return fastpath.run(opts, bake, runner)
    started = memo.prefetch_print(runner, bake, os.environ, request)
    return run("build", opts, bake, runner, started)


def run(
    name: str,
    opts: GuardOptions,
    bake: BakeArgs,
    docker: Docker | None = None,
    prefetched: subprocess.Popen[str] | Result | None = None,
    definitions: str | None = None,
) -> int:
    """Command `name` with a session (a build's docker and `bake --print` may be started
    already); a build, a merge and a verification write the report and summary however
    they end."""
    from bakeguard import log
    from bakeguard.docker import Docker
    from bakeguard.errors import DockerError

    log.configure(opts.verbose)
    if name == "advisories":
        from bakeguard.commands.advisories import list_advisories

        return list_advisories(opts, os.environ)
    if name == "forget_compat":
        from bakeguard.commands.forget_compat import forget_compat

        return forget_compat(opts, os.environ)
    if docker is None:
        try:
            docker = Docker.from_env()
        except DockerError:
            if name != "plan":  # the plan can read bake files offline
                raise
            docker = Docker("")
        docker.definitions = definitions
    from bakeguard.session import Session, finishing

    session = Session(opts, bake, docker, prefetched=prefetched)
    if name == "version":
        from bakeguard.commands.doctor import version

        return version(session)
    if name == "doctor":
        from bakeguard.commands.doctor import doctor

        return doctor(session)
    if name == "plan":
        from bakeguard.commands.plan import plan

        return plan(session)
    if name == "install_plugin":
        from bakeguard.commands.install_plugin import install_plugin

        return install_plugin(session)
    if name == "merge":
        from bakeguard.commands.merge import merge

        return finishing(session, lambda: merge(session))
    if name == "verify_only":
        from bakeguard.commands.verify_only import verify_only

        return finishing(session, lambda: verify_only(session))
    from bakeguard.commands.build import build

    return finishing(session, lambda: build(session))
