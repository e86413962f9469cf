"""The provider instance LiteLLM's proxy loads through ``custom_provider_map``.

Importing this module validates every ``claude-code/...`` deployment of the
proxy's config file, so a bad ``model_info.claude_code`` block stops the proxy
at start-up with a message naming the deployment, not at the first request.
It makes the provider (with kept processes), registers its Prometheus
collector, and makes the proxy hooks the config's ``callbacks`` name. Prices
are not registered here: see ``litellm_claude_code.translate.pricing``.
"""

from __future__ import annotations

import sys

from claude_code_provider import ClaudeCodeProvider
from litellm_claude_code.proxy import metrics
from litellm_claude_code.proxy.config_check import validate_startup_config
from litellm_claude_code.proxy.hooks import ProxyHooks

validate_startup_config(sys.argv)

# The proxy's event loop lives as long as the proxy: warm sessions pay off.
claude_code_provider = ClaudeCodeProvider(pooling=True)

# Registered under litellm_settings.callbacks in config/litellm_config.yaml.
# Quota, processes, queue and outcomes in the registry LiteLLM's /metrics serves.
metrics.register(claude_code_provider.collector())

# It reads the provider's quota state for the response headers and to route among a model's accounts.
proxy_hooks = ProxyHooks(claude_code_provider.quotas)
metrics.register(metrics.RoutingCollector(proxy_hooks.routing, proxy_hooks.window_use))
