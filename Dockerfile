# syntax=docker/dockerfile:1
# litellm-claude-code: the stock LiteLLM proxy with the Claude Code provider.
# Build: docker build -t litellm-claude-code .   Run: docker compose up (see docs/docker.md).

FROM python:3.12-slim AS build
# The venv on PATH: the Prisma CLI runs its generator by name (prisma-client-py, a venv script).
# The bundled model price map: importing litellm at build time fetches nothing.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PATH=/opt/venv/bin:$PATH \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    PRISMA_BINARY_CACHE_DIR=/opt/prisma
WORKDIR /app
COPY requirements.txt .
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install -r requirements.txt
# The Prisma client for LiteLLM's database layer is generated at build time
# (stock Prisma: its engines download here, on a machine with internet).
RUN /opt/venv/bin/prisma generate \
    --schema "$(/opt/venv/bin/python -c 'import litellm, os; print(os.path.join(os.path.dirname(litellm.__file__), "proxy", "schema.prisma"))')"

FROM python:3.12-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONFAULTHANDLER=1 \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    CLAUDE_CONFIG_DIR=/home/app/.claude \
    ENV_FILE=/home/app/.claude/oauth-token.env \
    PRISMA_BINARY_CACHE_DIR=/opt/prisma \
    PORT=4000
RUN useradd --create-home --uid 10001 app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/prisma /opt/prisma
WORKDIR /app
COPY claude_code_provider.py custom_handler.py ./
COPY litellm_claude_code ./litellm_claude_code
COPY config ./config
COPY scripts/docker-entrypoint.sh scripts/authenticate-claude.sh ./scripts/
RUN mkdir -p /home/app/.claude && chown -R app:app /home/app
USER 10001
EXPOSE 4000
VOLUME ["/home/app/.claude"]
# /health/liveliness never starts a Claude process.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '4000') + '/health/liveliness', timeout=4)"]
ENTRYPOINT ["/app/scripts/docker-entrypoint.sh"]
