"""Every subprocess call to docker goes through this module.

`run_bake` hands the terminal to bake (a TTY stays a TTY, output is never captured or
re-formatted), forwards SIGINT/SIGTERM/SIGHUP and returns bake's exit code. `capture` runs the
short helper commands (probes, `bake --print`, `imagetools`) with their output captured.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence

from bakeguard import locator, streams
from bakeguard.errors import DockerError
from bakeguard.interrupts import FORWARDED, Interrupted
from bakeguard.terminal import Tee

TYPE_CHECKING = False  # typing is not imported before a fast path's bake starts
if TYPE_CHECKING:
    from types import FrameType

# For a bake whose metadata file is bakeguard's own (the user asked for none): bake would
# fetch each target's provenance from the build history for that file, one round trip per
# target; bakeguard reads only the digests.
OWN_METADATA_ENV = {"BUILDX_METADATA_PROVENANCE": "disabled"}


class Result:
    """A finished helper command."""

    __slots__ = ("argv", "code", "stderr", "stdout")

    def __init__(self, argv: tuple[str, ...], code: int, stdout: str, stderr: str) -> None:
        self.argv, self.code, self.stdout, self.stderr = argv, code, stdout, stderr

    @property
    def ok(self) -> bool:
        return self.code == 0


def docker_binary(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    explicit = environ.get("BAKEGUARD_DOCKER")
    if explicit:
        return explicit
    found = locator.which("docker", environ)
    if not found:
        raise DockerError(
            "docker was not found on PATH",
            "install the docker CLI with the buildx plugin, "
            "or set BAKEGUARD_DOCKER=/path/to/docker",
            exit_code=127,
        )
    return found


class Docker:
    def __init__(self, binary: str, env: Mapping[str, str] | None = None) -> None:
        self.binary = binary
        self.env = env
        self._plugin: str | None = None
        # the definitions this run read from streams, every bake's stdin (bakeguard.streams)
        self.definitions: str | None = None
        self.bakes_started = 0  # attached commands (bakes) started so far

    @property
    def _environ(self) -> Mapping[str, str]:
        """The environment children inherit unless told otherwise: ours, or the one given."""
        return os.environ if self.env is None else self.env

    def plugin(self) -> str | None:
        """The buildx plugin `docker buildx` runs, when the locator knows it (see
        bakeguard.locator): every buildx call then runs it as the docker CLI would, without
        the CLI's own start-up and plugin validation. The probe asks docker itself."""
        if self._plugin is None:
            self._plugin = locator.lookup(self.binary, self._environ)
        return self._plugin

    def _argv(
        self,
        args: Sequence[str],
        extra: Mapping[str, str] | None,
        unset: Sequence[str],
        direct: bool,
    ) -> tuple[tuple[str, ...], dict[str, str] | None]:
        """The command line and environment (None: ours) for `docker ARGS`."""
        env = self._env(extra, unset)
        plugin = self.plugin() if direct and args[:1] == ["buildx"] else None
        if plugin:
            return (plugin, *args), locator.plugin_env(self._environ if env is None else env)
        return (self.binary, *args), env

    def _helper_env(self, extra: Mapping[str, str] | None) -> Mapping[str, str] | None:
        """A helper command's variables: `extra`, and GOGC=400 unless GOGC is set. docker and
        buildx are Go programs; a helper lives a fraction of a second, and with Go's default
        GC target spends much of its CPU collecting garbage its exit would free (scripts/bench
        shows the helpers' share). Only helpers: the user's bake runs with the user's
        environment."""
        if "GOGC" in (extra or {}) or "GOGC" in self._environ:
            return extra
        return {"GOGC": "400", **(extra or {})}

    @classmethod
    def from_env(cls) -> Docker:
        return cls(docker_binary())

    def _env(
        self, extra: Mapping[str, str] | None, unset: Sequence[str] = ()
    ) -> dict[str, str] | None:
        """The child's environment (None: ours, unchanged)."""
        if extra is None and self.env is None and not unset:
            return None
        base = dict(self._environ)
        base.update(extra or {})
        for name in unset:
            base.pop(name, None)
        return base

    def capture(
        self,
        args: Sequence[str],
        timeout: float | None = 60,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        nice: bool = False,
        direct: bool = True,
    ) -> Result:
        """A helper command, output captured. `nice` lowers its CPU priority: it runs beside
        a bake and must not slow it down. `direct=False`: through the docker CLI even when
        the plugin is known (the probe asks docker itself)."""
        started = self.start(args, env, stdin is not None, nice, direct)
        if isinstance(started, Result):
            return started
        return self.collect(started, timeout, stdin)

    def start(
        self,
        args: Sequence[str],
        env: Mapping[str, str] | None = None,
        with_stdin: bool = False,
        nice: bool = False,
        direct: bool = True,
    ) -> subprocess.Popen[str] | Result:
        """A helper command started, for `collect` later (a Result if it could not start)."""
        argv, child_env = self._argv(list(args), self._helper_env(env), (), direct)
        if nice and locator.which("nice", os.environ):
            argv = ("nice", "-n", "19", *argv)
        fed = None if with_stdin else streams.bake_stdin(self.definitions, args)
        stdin = subprocess.PIPE if with_stdin else subprocess.DEVNULL if fed is None else fed
        try:
            return subprocess.Popen(
                argv,
                stdin=stdin,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                encoding="utf-8",  # docker writes UTF-8 whatever the locale
                errors="replace",
                env=child_env,
            )
        except OSError as e:
            return Result(argv, 127, "", str(e))
        finally:
            streams.close(fed)

    def start_fed(
        self,
        args: Callable[[Sequence[str]], Sequence[str]],
        inputs: int,
        env: Mapping[str, str] | None = None,
    ) -> Fed | None:
        """A helper command started before its inputs are known: `args` gets `inputs` file
        names (/dev/fd/N, each a pipe) to put in the command line, and the command is to read
        them before it does anything else; `Fed.feed` writes them later. (For `imagetools
        create -f`: its start-up then overlaps bake.) None when it cannot start."""
        pipes = [os.pipe() for _ in range(inputs)]
        readers = [r for r, _ in pipes]
        files = [f"/dev/fd/{r}" for r in readers]
        argv, child_env = self._argv(list(args(files)), self._helper_env(env), (), True)
        try:
            p = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                encoding="utf-8",  # docker writes UTF-8 whatever the locale
                errors="replace",
                env=child_env,
                pass_fds=readers,
            )
        except OSError:
            p = None
        for r, w in pipes:
            os.close(r)
            if p is None:
                os.close(w)
        return Fed(p, [w for _, w in pipes]) if p is not None else None

    @staticmethod
    def collect(
        p: subprocess.Popen[str] | Result, timeout: float | None = 60, stdin: str | None = None
    ) -> Result:
        """A started helper command's outcome (killed after `timeout` seconds)."""
        if isinstance(p, Result):
            return p
        argv = tuple(str(a) for a in p.args)  # type: ignore[union-attr]
        try:
            out, err = p.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            return Result(argv, 124, out or "", (err or "") + f"\ntimed out after {timeout}s")
        return Result(argv, p.returncode, out, err)

    def run_bake(
        self,
        bake_args: Sequence[str],
        env: Mapping[str, str] | None = None,
        unset: Sequence[str] = (),
        tee: Callable[[bytes], None] | None = None,
        started: Callable[[], None] | None = None,
    ) -> int:
        """`docker buildx bake ARGS` with the user's terminal; returns bake's exit code.
        With `tee`, bake's stderr also goes to tee (bakeguard reads push errors there);
        `started` is called once bake runs (work that should not delay its start)."""
        return self.run_attached(
            ("buildx", "bake", *bake_args), env=env, unset=unset, tee=tee, started=started
        )

    def run_attached(
        self,
        args: Sequence[str],
        env: Mapping[str, str] | None = None,
        unset: Sequence[str] = (),
        tee: Callable[[bytes], None] | None = None,
        started: Callable[[], None] | None = None,
    ) -> int:
        argv, child_env = self._argv(list(args), env, unset, True)
        got: list[int] = []
        child: subprocess.Popen[bytes] | None = None

        def forward(signum: int, _frame: FrameType | None) -> None:
            got.append(signum)
            if child is not None and child.poll() is None:
                child.send_signal(signum)

        # Forwarding is in place before bake starts: a Ctrl-C in between would otherwise
        # raise here, out of reach of bake, and leave it running (and us reading its stderr).
        on_main = threading.current_thread() is threading.main_thread()
        previous = {s: signal.signal(s, forward) for s in FORWARDED} if on_main else {}
        stderr = Tee(tee) if tee else None
        fed = streams.bake_stdin(self.definitions, args)
        try:
            if got:  # interrupted before bake started: it is not started
                raise Interrupted.by(got[0])
            try:
                child = subprocess.Popen(
                    argv, env=child_env, stdin=fed, stderr=stderr.child_fd if stderr else None
                )
            except OSError as e:
                raise DockerError(
                    f"could not start {argv[0]}: {e}",
                    "check BAKEGUARD_DOCKER / PATH",
                    exit_code=127,
                ) from e
            self.bakes_started += 1
            if got and child.poll() is None:  # while it was being started
                child.send_signal(got[0])
            if stderr:
                stderr.start()
            if started is not None:
                started()
            while True:
                try:
                    code = child.wait()
                    break
                except KeyboardInterrupt:  # only if a handler was not installed
                    forward(signal.SIGINT, None)
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
            if stderr:
                stderr.close()
            streams.close(fed)
        if got:
            raise Interrupted.by(got[0])
        return code if code >= 0 else 128 - code


class Fed:
    """A command from `Docker.start_fed`, waiting for its inputs."""

    def __init__(self, proc: subprocess.Popen[str], writers: list[int]) -> None:
        self.proc, self.writers = proc, writers

    def feed(self, texts: Sequence[str], timeout: float | None = 300) -> Result:
        """Write one text to each input, then wait for the command's outcome."""
        if len(texts) != len(self.writers):
            raise ValueError(f"{len(self.writers)} inputs, {len(texts)} texts")
        try:
            for text in texts:
                fd = self.writers.pop(0)
                try:
                    os.write(fd, text.encode())
                finally:
                    os.close(fd)
        except OSError:  # it exited before reading: its own output says why
            self._close()
        return Docker.collect(self.proc, timeout)

    def _close(self) -> None:
        while self.writers:
            with contextlib.suppress(OSError):
                os.close(self.writers.pop())

    def cancel(self) -> None:
        """Empty inputs (the command exits without doing anything), and kill it."""
        self._close()
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.communicate(timeout=10)


def credential_helper(name: str, server: str) -> dict[str, str] | None:
    """`docker-credential-NAME get` for SERVER, as the docker CLI runs it. Output is parsed,
    never logged (it holds the secret)."""
    try:
        p = subprocess.run(
            [f"docker-credential-{name}", "get"],
            input=server,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if p.returncode != 0:
        return None
    try:
        import json

        got = json.loads(p.stdout)
    except ValueError:
        return None
    return {str(k): str(v) for k, v in got.items()} if isinstance(got, dict) else None
