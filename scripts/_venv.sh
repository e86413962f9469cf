# Shared by scripts/run-proxy, scripts/test, scripts/bench and scripts/soak: create .venv with
# Python 3.12 and install the locked requirements when they changed since the last install.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# A venv given by the caller is theirs: never recreated here (a mismatch is an error).
VENV_GIVEN="${VENV:+1}"
VENV="${VENV:-$ROOT/.venv}"
# The product runs on Python 3.12: 3.11's context variables crash under long agent sessions
# (python/cpython#148891, a segfault in hamt_node_bitmap_assoc; docs/runtime.md, scripts/soak).
PYTHON_WANTED="3.12"

# The interpreter that makes the venv: $PYTHON, else python3.12 on PATH, else pyenv's newest 3.12.
find_python() {
  if [ -n "${PYTHON:-}" ]; then
    echo "$PYTHON"
    return
  fi
  # (A pyenv shim on PATH is there whether or not its version is selected: it must run.)
  local on_path
  on_path="$(command -v "python$PYTHON_WANTED" 2>/dev/null || true)"
  if [ -n "$on_path" ] && [ "$(python_version "$on_path")" = "$PYTHON_WANTED" ]; then
    echo "$on_path"
    return
  fi
  local root found
  root="$( (command -v pyenv >/dev/null 2>&1 && pyenv root) || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
  # The highest patch release (sort -V: 3.12.10 after 3.12.9).
  found="$(find "$root/versions" -mindepth 3 -maxdepth 3 -path "*/versions/$PYTHON_WANTED.*/bin/python$PYTHON_WANTED" \
    -perm -u+x 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -n "$found" ]; then
    echo "$found"
    return
  fi
  echo "error: Python $PYTHON_WANTED is needed: no python$PYTHON_WANTED on PATH and none under $root/versions" \
    "(install it, e.g. \`pyenv install $PYTHON_WANTED\` or your system's python$PYTHON_WANTED package, or set PYTHON)" >&2
  return 1
}

# major.minor of an interpreter, or nothing when it does not run.
python_version() {
  "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true
}

ensure_venv() {
  # One stamp per set of requirement files, so the proxy's and the tests' sets
  # do not reinstall each other.
  local stamp="$VENV/.installed-$(printf '%s' "$*" | tr -c 'A-Za-z0-9' '_')" want have python
  want="$(cat "$@" | sha256sum | cut -d' ' -f1)"
  if [ -e "$VENV" ]; then
    have="$(python_version "$VENV/bin/python")"
    if [ "$have" != "$PYTHON_WANTED" ]; then
      if [ -n "$VENV_GIVEN" ]; then
        echo "error: VENV=$VENV is Python ${have:-unknown (no working bin/python)}; this project needs" \
          "$PYTHON_WANTED. Point VENV at a Python $PYTHON_WANTED venv, or unset VENV to use $ROOT/.venv" \
          "(created with Python $PYTHON_WANTED)." >&2
        return 1
      fi
      echo "$VENV is Python ${have:-unknown}, not $PYTHON_WANTED: recreating it" >&2
      rm -rf "$VENV"
    fi
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    python="$(find_python)"
    have="$(python_version "$python")"
    if [ "$have" != "$PYTHON_WANTED" ]; then
      echo "error: $python is Python ${have:-unknown (does not run)}; this project needs Python $PYTHON_WANTED" >&2
      return 1
    fi
    echo "creating virtual environment in $VENV with $python" >&2
    "$python" -m venv "$VENV"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "installing $* into $VENV" >&2
    local args=()
    for f in "$@"; do args+=(-r "$f"); done
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q "${args[@]}"
    echo "$want" > "$stamp"
  fi
}
