#!/usr/bin/env bash
# Log the proxy's Claude Code in to a Claude subscription, or report its status.
#
#   scripts/authenticate-claude.sh login    # interactive `claude /login` (browser code flow)
#   scripts/authenticate-claude.sh token    # store a token from `claude setup-token` into .env
#   scripts/authenticate-claude.sh status   # logged in? (never prints a secret)
#
# Credentials live in CLAUDE_CONFIG_DIR (default ~/.claude); in Docker that is a volume.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
CONFIG_DIR="${CLAUDE_CONFIG_DIR:-$HOME/.claude}"

claude_bin() {
  local py="${VENV}/bin/python"
  [ -x "$py" ] || py=python3
  "$py" - <<'PY'
import pathlib, claude_agent_sdk
print(pathlib.Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude")
PY
}

status() {
  if [ -n "${CLAUDE_CODE_OAUTH_TOKEN:-}" ]; then
    echo "logged in: CLAUDE_CODE_OAUTH_TOKEN is set (a setup-token; valid about one year from its creation)"
    return 0
  fi
  local creds="$CONFIG_DIR/.credentials.json"
  if [ -f "$creds" ]; then
    python3 - "$creds" <<'PY'
import json, sys, datetime
data = json.load(open(sys.argv[1]))
oauth = data.get("claudeAiOauth") or {}
expires = oauth.get("expiresAt")
when = datetime.datetime.fromtimestamp(expires / 1000, datetime.timezone.utc).isoformat() if expires else "unknown"
kind = oauth.get("subscriptionType") or "unknown plan"
print(f"logged in: credentials in {sys.argv[1]} ({kind}); access token expires {when} (refreshed automatically)")
PY
    return 0
  fi
  echo "not logged in: run '$0 login' or '$0 token', or set CLAUDE_CODE_OAUTH_TOKEN" >&2
  return 1
}

case "${1:-status}" in
  login)
    mkdir -p "$CONFIG_DIR"
    CLAUDE_CONFIG_DIR="$CONFIG_DIR" "$(claude_bin)" /login
    status
    ;;
  token)
    read -r -s -p "Paste the token from 'claude setup-token': " token; echo
    [ -n "$token" ] || { echo "no token given" >&2; exit 2; }
    touch "$ROOT/.env"; chmod 600 "$ROOT/.env"
    grep -v '^CLAUDE_CODE_OAUTH_TOKEN=' "$ROOT/.env" > "$ROOT/.env.tmp" || true
    echo "CLAUDE_CODE_OAUTH_TOKEN=$token" >> "$ROOT/.env.tmp"
    mv "$ROOT/.env.tmp" "$ROOT/.env"
    echo "stored in $ROOT/.env (restart the proxy to use it)"
    ;;
  status) status ;;
  *) echo "usage: $0 [login|token|status]" >&2; exit 2 ;;
esac
