# Shared by scripts/run-proxy and scripts/test: create .venv and install the
# locked requirements when they changed since the last install.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

ensure_venv() {
  # One stamp per set of requirement files, so the proxy's and the tests' sets
  # do not reinstall each other.
  local stamp="$VENV/.installed-$(printf '%s' "$*" | tr -c 'A-Za-z0-9' '_')" want
  want="$(cat "$@" | sha256sum | cut -d' ' -f1)"
  if [ ! -x "$VENV/bin/python" ]; then
    echo "creating virtual environment in $VENV" >&2
    "$PYTHON" -m venv "$VENV"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "installing $* into $VENV" >&2
    local args=()
    for f in "$@"; do args+=(-r "$f"); done
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q "${args[@]}"
    echo "$want" > "$stamp"
  fi
}
