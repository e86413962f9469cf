#!/bin/sh
# Container start: check the settings, report the Claude login (no secrets), start the stock proxy.
# Runs outside Docker too (tests/ops): APP_DIR and LITELLM_BIN locate the app and the proxy binary.
set -eu
APP_DIR="${APP_DIR:-/app}"
LITELLM_BIN="${LITELLM_BIN:-litellm}"
CONFIG_FILE="${CONFIG_FILE:-$APP_DIR/config/litellm_config.yaml}"

case "${LITELLM_MASTER_KEY:-}" in
  "") echo "LITELLM_MASTER_KEY is not set: put a long random key in .env (LiteLLM refuses weak keys)" >&2; exit 64 ;;
  sk-1234|sk-12345|sk-123456|sk-password|sk-admin|sk-test)
    echo "LITELLM_MASTER_KEY is a known weak key: use a long random one" >&2; exit 64 ;;
esac

# A setup-token stored with `authenticate-claude.sh token` inside the container lives in
# ENV_FILE, in the credentials volume (the Dockerfile points it there); the environment wins.
if [ -z "${CLAUDE_CODE_OAUTH_TOKEN:-}" ] && [ -n "${ENV_FILE:-}" ] && [ -f "$ENV_FILE" ]; then
  stored="$(sed -n 's/^CLAUDE_CODE_OAUTH_TOKEN=//p' "$ENV_FILE" | tail -n 1)"
  if [ -n "$stored" ]; then
    export CLAUDE_CODE_OAUTH_TOKEN="$stored"
  fi
fi

export PYTHONPATH="$APP_DIR${PYTHONPATH:+:$PYTHONPATH}"
export LITELLM_LOCAL_MODEL_COST_MAP="${LITELLM_LOCAL_MODEL_COST_MAP:-True}"
"$APP_DIR/scripts/authenticate-claude.sh" status || echo "the proxy starts anyway; requests get a 401 until you log in" >&2

exec "$LITELLM_BIN" --config "$CONFIG_FILE" --host "${HOST:-0.0.0.0}" --port "${PORT:-4000}"
