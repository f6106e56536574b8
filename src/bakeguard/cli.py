"""`bakeguard ARGS` = `docker buildx bake ARGS`, guarded. Errors become exit codes here, and
only here. The pass-through path (`--guard=off`, `--print`, `--list`, `--call`, `--help`)
imports nothing heavy, so it costs what starting Python costs."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from bakeguard import options
from bakeguard.docker import Docker, Interrupted
from bakeguard.errors import EXIT_INTERRUPTED, BakeguardError


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        opts, bake = options.parse(args)
        special = (
            opts.version
            or opts.advisories
            or opts.doctor
            or opts.plan
            or opts.verify_only
            or opts.merge
            or opts.install_plugin
        )
        if not special and (opts.guard == "off" or bake.passthrough_only):
            return Docker.from_env().run_bake(bake.argv)
        from bakeguard import app

        return app.run(opts, bake)
    except Interrupted as e:
        return e.code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BakeguardError as e:
        from bakeguard import log

        log.configure()
        log.get().error(e.message())
        return e.exit_code
