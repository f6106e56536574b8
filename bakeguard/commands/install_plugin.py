"""`--guard-install-plugin`: writes `docker-bakeguard` into the user's cli-plugins folder, so
that `docker bakeguard ARGS` = `bakeguard ARGS` (bakeguard.plugin is what it runs)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bakeguard import locator
from bakeguard.session import Session

SCRIPT = """#!{python}
# docker CLI plugin installed by `bakeguard --guard-install-plugin`
import sys
from bakeguard.plugin import plugin_main
sys.exit(plugin_main(sys.argv[1:]))
"""


def install_plugin(session: Session) -> int:
    target = Path(locator.config_dir(session.environ)) / "cli-plugins" / "docker-bakeguard"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(SCRIPT.format(python=sys.executable))
    os.chmod(tmp, 0o755)
    tmp.replace(target)
    session.log.info(f"installed {target}: `docker bakeguard ARGS` now runs bakeguard")
    return 0
