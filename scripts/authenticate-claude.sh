#!/usr/bin/env bash
# Log the proxy's Claude Code in to a Claude subscription, or report its status.
#
#   scripts/authenticate-claude.sh login    # interactive `claude /login` (browser code flow)
#   scripts/authenticate-claude.sh token    # store a token from `claude setup-token` into .env (stdin)
#   scripts/authenticate-claude.sh status   # logged in? (never prints a secret)
#
# Credentials live in CLAUDE_CONFIG_DIR (default ~/.claude); in Docker that is a volume.
# ENV_FILE (default .env in the repository) is the file scripts/run-proxy reads.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
CONFIG_DIR="${CLAUDE_CONFIG_DIR:-$HOME/.claude}"
ENV_FILE="${ENV_FILE:-$ROOT/.env}"

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
  if [ -f "$ENV_FILE" ] && grep -q '^CLAUDE_CODE_OAUTH_TOKEN=.' "$ENV_FILE"; then
    echo "logged in: CLAUDE_CODE_OAUTH_TOKEN is stored in $ENV_FILE (read by scripts/run-proxy)"
    return 0
  fi
  local creds="$CONFIG_DIR/.credentials.json"
  # Exit 0: usable (an expired access token with a refresh token is refreshed by Claude Code).
  if [ -f "$creds" ] && python3 - "$creds" <<'PY'
import datetime, json, sys, time
path = sys.argv[1]
try:
    with open(path) as handle:
        oauth = json.load(handle).get("claudeAiOauth") or {}
except (OSError, ValueError, AttributeError):
    sys.exit(f"{path} is unreadable or not a Claude login")
if not oauth.get("accessToken"):
    sys.exit(f"no Claude login in {path}")
expires = oauth.get("expiresAt")
known = isinstance(expires, (int, float)) and not isinstance(expires, bool)
when = datetime.datetime.fromtimestamp(expires / 1000, datetime.timezone.utc).isoformat() if known else "unknown"
kind = oauth.get("subscriptionType") or "unknown plan"
refreshable = bool(oauth.get("refreshToken"))
if known and expires / 1000 <= time.time():
    if not refreshable:
        sys.exit(f"the login in {path} ({kind}) expired at {when} and has no refresh token")
    note = f"access token expired at {when}; Claude Code refreshes it on the next request"
else:
    note = f"access token expires {when}" + (" (refreshed automatically)" if refreshable else " (no refresh token)")
print(f"logged in: credentials in {path} ({kind}); {note}")
PY
  then
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
    token=""
    read -r -s -p "Paste the token from 'claude setup-token': " token || true; echo
    [ -n "$token" ] || { echo "no token given" >&2; exit 2; }
    umask 077  # the new file holds a secret: mode 600 from the start (mv keeps the temp file's mode)
    touch "$ENV_FILE"
    grep -v '^CLAUDE_CODE_OAUTH_TOKEN=' "$ENV_FILE" > "$ENV_FILE.tmp" || true
    echo "CLAUDE_CODE_OAUTH_TOKEN=$token" >> "$ENV_FILE.tmp"
    chmod 600 "$ENV_FILE.tmp"
    mv "$ENV_FILE.tmp" "$ENV_FILE"
    echo "stored in $ENV_FILE (restart the proxy to use it)"
    ;;
  status) status ;;
  *) echo "usage: $0 [login|token|status]" >&2; exit 2 ;;
esac
