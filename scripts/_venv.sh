# Sourced by the scripts/ commands: makes (once) and activates the project's virtualenv,
# kept outside the checkout beside the stack cache, re-installing only when pyproject changes.
set -euo pipefail
BAKEGUARD_STACK_DIR="${BAKEGUARD_STACK_DIR:-$HOME/.cache/bakeguard-stack}"
export BAKEGUARD_STACK_DIR
_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_venv="${BAKEGUARD_VENV:-$BAKEGUARD_STACK_DIR/venv}"
_stamp="$_venv/.bakeguard-installed"
_want="$(cat "$_repo/pyproject.toml" | sha256sum | cut -c1-16) $_repo"
if [ ! -x "$_venv/bin/python" ]; then
  mkdir -p "$(dirname "$_venv")"
  python3 -m venv "$_venv"
fi
if [ "$(cat "$_stamp" 2>/dev/null || true)" != "$_want" ]; then
  "$_venv/bin/python" -m pip install -q --disable-pip-version-check -e "$_repo[dev]" >&2
  echo "$_want" > "$_stamp"
fi
export PATH="$_venv/bin:$PATH"
