"""LiteLLM proxy hooks for Claude Code deployments."""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any, NoReturn

from fastapi import HTTPException
from litellm.constants import RETURN_RAW_MODEL_NAME_METADATA_KEY
from litellm.integrations.custom_logger import CustomLogger
from litellm.types.llms.openai import ResponsesAPIResponse

from .. import boundary, quota
from ..errors import Failed
from ..quota import Quotas
from ..settings import SETTINGS_KEY, SettingsError, parse_settings
from ..translate.deferred import load_deferred
from ..translate.prompt import TOOL_ERRORS_METADATA_KEY, PromptError, check_shapes
from . import health, messages_search, responses_search
from .affinity import Affinity, conversation_of
from .metrics import Routing
from .pool import Candidate, Decision, Pool
from .shares import ShareError, Shares, share_of

logger = logging.getLogger(__name__)


class ProxyHooks(CustomLogger):
    """Proxy hooks for Claude Code deployments.

    Malformed chat messages are refused with a 400 before LiteLLM's own
    pre-processing (see _refuse_malformed). And responses name the model that
    actually answered: the proxy rewrites a response's ``model`` to the name the client asked for
    (``sonnet``) unless the request's metadata carries LiteLLM's raw-model-name
    flag; our users asked to see the model Claude Code really used
    (``claude-sonnet-4-5-...``, or the account default behind ``default``).
    """

    def __init__(
        self,
        quotas: Quotas | None = None,
        affinity: Affinity | None = None,
        routing: Routing | None = None,
        clock: Callable[[], float] = time.time,
        deployments_of: Callable[[str], list[Any]] | None = None,
    ) -> None:
        super().__init__()
        self._quotas = quotas
        self._affinity = affinity or Affinity()
        self.routing = routing or Routing()
        self._clock = clock
        self._deployments_of = deployments_of or router_deployments
        self.shares = Shares()
        self._key_names: dict[str, str] = {}  # key hash -> its alias, for people reading metrics
        self._dropped: set[str] = set()  # tool types already reported as dropped
        # litellm_call_id -> the routing decision, for the response's headers
        self._decisions: OrderedDict[str, Decision] = OrderedDict()

    async def async_filter_deployments(
        self,
        model: str,
        healthy_deployments: list[Any],
        messages: list[Any] | None,
        request_kwargs: dict[str, Any] | None = None,
        parent_otel_span: Any = None,
    ) -> list[Any]:
        """The one account of the model's pool that serves this request (issue 20, see ``pool``).

        Runs after the router's own filters (cooldowns among them), so it chooses
        among the deployments the router would. Deployments the router has
        already tried for this request (weighted failover) are left out here.
        A model group that is not only Claude Code deployments is left alone.
        """
        kwargs = request_kwargs or {}
        if self._quotas is None or health.is_health_probe(kwargs.get("litellm_params") or kwargs):
            return healthy_deployments
        if not healthy_deployments:
            self._refuse_spent_pool(model, self._quotas)
            return healthy_deployments
        tried = set(kwargs.get("_excluded_deployment_ids") or ())
        offered = [d for d in healthy_deployments if _deployment_id(d) not in tried]
        candidates = [_candidate(d, self._quotas) for d in offered]
        if not offered or any(c is None for c in candidates):
            return healthy_deployments
        pool = Pool([c for c in candidates if c is not None], self._clock())
        conversation = conversation_of(model, messages)
        pinned = None
        if conversation is not None and conversation.continuing:
            pinned = await self._affinity.get(conversation.key)
        decision = pool.choose(pinned)
        if decision is None:
            self._refuse(model, pool)
        if conversation is not None:
            await self._affinity.set(conversation.key, decision.deployment)
        self.routing.decided(model, decision)
        call_id = kwargs.get("litellm_call_id")
        if isinstance(call_id, str):
            self._decisions[call_id] = decision
            while len(self._decisions) > 10_000:
                self._decisions.popitem(last=False)
        return [d for d in offered if _deployment_id(d) == decision.deployment]

    def _refuse(self, model: str, pool: Pool) -> NoReturn:
        self.routing.refused(model)
        with boundary.mapped(model):  # a 429 with Retry-After, as the provider's own refusals
            raise Failed(pool.refusal(model))

    def _refuse_spent_pool(self, model: str, quotas: Quotas) -> None:
        """With every deployment of the model cooled down by the router: our 429 when their plans are spent.

        The router cools an account down on the 429 that reveals its spent
        plan; without this, the client would see LiteLLM's "No deployments
        available ... cooldown" instead of what happened and when it resets.
        """
        candidates = [_candidate(d, quotas) for d in self._deployments_of(model)]
        if not candidates or any(c is None for c in candidates):
            return
        pool = Pool([c for c in candidates if c is not None], self._clock())
        if pool.choose(None) is None:
            self._refuse(model, pool)

    async def async_post_call_response_headers_hook(
        self,
        data: dict[str, Any],
        user_api_key_dict: Any,
        response: object,
        request_headers: dict[str, str] | None = None,
        litellm_call_info: dict[str, object] | None = None,
    ) -> dict[str, str] | None:
        """The account's quota as last seen, on every response of a Claude Code deployment (issue 12)."""
        deployment = (litellm_call_info or {}).get("model_id")
        if self._quotas is None or not isinstance(deployment, str):
            return None
        out = quota.headers(self._quotas.of(deployment))
        call_id = data.get("litellm_call_id")
        decision = self._decisions.pop(call_id, None) if isinstance(call_id, str) else None
        if decision is not None:
            # Which account of the pool served, where it stood when chosen, and why it was chosen.
            out[f"{ROUTING_HEADER_PREFIX}account"] = decision.deployment
            out[f"{ROUTING_HEADER_PREFIX}account-standing"] = decision.standing.label
            out[f"{ROUTING_HEADER_PREFIX}routing"] = decision.how
        return out or None

    def _report_dropped_tools(self, tools: object) -> None:
        """Log once per type the /v1/responses tools LiteLLM's adapter drops before the provider.

        Hosted tools (``local_shell``, ``file_search``, ``computer_use_preview``, MCP ...) have no
        Claude Code equivalent: the adapter leaves them out, so the model never sees them (issue 13).
        ``web_search`` becomes ``web_search_options``, which Claude's own search answers (issue 23).
        """
        for tool in tools if isinstance(tools, list) else []:
            kind = tool.get("type") if isinstance(tool, dict) else None
            if not isinstance(kind, str) or kind in CARRIED_RESPONSES_TOOLS or kind in self._dropped:
                continue
            self._dropped.add(kind)
            logger.warning("a /v1/responses tool of type %r cannot reach Claude Code: it is left out", kind)

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: Any, request_data: dict[str, Any]
    ) -> AsyncGenerator[Any, None]:
        """One model name throughout a stream, the one that answered (issue 14).

        The provider's chunks name the model that answered; the finish and usage
        chunks LiteLLM's stream wrapper makes itself name the requested alias.
        From the first chunk with content on, every chunk names its model.
        A /v1/responses stream with web search gets its searches' events in
        place (``responses_search``), a /v1/messages stream its searches'
        blocks (``messages_search``).
        """
        key = responses_search.key_of(request_data)
        if key is not None:
            async for event in responses_search.SearchEvents(request_data, key).events(response):
                yield event
            return
        blocks_key = messages_search.key_of(request_data)
        if blocks_key is not None:
            async for frame in messages_search.SearchFrames(blocks_key).frames(response):
                yield frame
            return
        answered: str | None = None
        async for chunk in response:
            model = getattr(chunk, "model", None)
            if answered is None and model and _has_content(chunk):
                answered = model
            elif answered is not None and model != answered:
                chunk.model = answered
            yield chunk

    async def async_post_call_success_hook(self, data: dict[str, Any], user_api_key_dict: Any, response: Any) -> Any:
        """A whole /v1/responses answer with web search: its searches before its message
        (``responses_search``); a whole /v1/messages answer: its searches' blocks (``messages_search``)."""
        if isinstance(response, ResponsesAPIResponse):
            responses_search.place(data, response)
        elif isinstance(response, dict) and response.get("type") == "message":
            messages_search.place(data, response)
        return response

    async def async_log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        """Each answer's weighted tokens (its list price) for its key, against its account's window (``shares``)."""
        logged = kwargs.get("standard_logging_object") if isinstance(kwargs, dict) else None
        if self._quotas is None or not isinstance(logged, Mapping):
            return
        deployment, cost = logged.get("model_id"), logged.get("response_cost")
        metadata = logged.get("metadata")
        key = metadata.get("user_api_key_hash") if isinstance(metadata, Mapping) else None
        if not isinstance(deployment, str) or not isinstance(key, str) or not isinstance(cost, (int, float)):
            return
        alias = metadata.get("user_api_key_alias") if isinstance(metadata, Mapping) else None
        self._key_names[key] = alias if isinstance(alias, str) and alias else key[:16]
        self.shares.record(deployment, key, float(cost), self._quotas.of(deployment))

    def window_use(self) -> list[tuple[str, str, float]]:
        """(key, model, estimated use of the model's pool window) for every key the proxy has served."""
        if self._quotas is None:
            return []
        pools: dict[str, list[str]] = {}
        for deployment, model in self._quotas.model_of.items():
            pools.setdefault(model, []).append(deployment)
        now = self._clock()
        out = []
        for key in self.shares.served_keys():
            for model, deployments in sorted(pools.items()):
                configured = [i for d in self._deployments_of(model) if (i := _deployment_id(d)) is not None]
                used, _ = self.shares.used(key, configured or deployments, now)
                if used > 0:
                    out.append((self._key_names.get(key, key[:16]), model, used))
        return out

    def _refuse_past_share(self, user_api_key_dict: Any, model: object) -> None:
        """A 429 until the window resets once the key's estimated use passes its share (``shares``)."""
        try:
            share = share_of(
                getattr(user_api_key_dict, "metadata", None), getattr(user_api_key_dict, "team_metadata", None)
            )
        except ShareError as error:  # the key's or team's settings, not the caller's request
            raise HTTPException(status_code=500, detail={"error": str(error)}) from None
        key = getattr(user_api_key_dict, "token", None)
        if share is None or not isinstance(key, str) or not isinstance(model, str):
            return
        deployments = [i for d in self._deployments_of(model) if (i := _deployment_id(d)) is not None]
        now = self._clock()
        used, reset = self.shares.used(key, deployments, now)
        if used < share:
            return
        wait = max(1, math.ceil(reset - now)) if reset is not None else None
        message = (
            f"this key's share of the 5-hour window of {model!r} ({share:.0%}) is used up"
            f" (estimated {used:.0%})" + (f"; the window resets in {wait}s" if wait is not None else "")
        )
        headers = {"retry-after": str(wait)} if wait is not None else None
        raise HTTPException(status_code=429, detail={"error": message}, headers=headers)

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
    ) -> dict[str, Any]:
        _refuse_malformed(data)
        self._refuse_past_share(user_api_key_dict, data.get("model"))
        if "responses" in str(call_type):
            self._report_dropped_tools(data.get("tools"))
            responses_search.prepare(data)
        elif "anthropic_messages" in str(call_type):
            load_deferred(data)  # before LiteLLM's adapter, which would fold defer_loading into the schema
            messages_search.prepare(data)
        metadata = data.get("metadata")
        if not isinstance(metadata, dict):
            metadata = {}
            data["metadata"] = metadata
        metadata[RETURN_RAW_MODEL_NAME_METADATA_KEY] = True
        failed = failed_tool_calls(data.get("messages"))
        if failed:
            # /v1/messages keeps the proxy's metadata under litellm_metadata (its
            # "metadata" is Anthropic's own request field).
            extra = data.get("litellm_metadata")
            data["litellm_metadata"] = {**(extra if isinstance(extra, dict) else {}), TOOL_ERRORS_METADATA_KEY: failed}
        return data


ROUTING_HEADER_PREFIX = "x-claude-code-"


def router_deployments(model: str) -> list[Any]:
    """The running proxy's deployments of ``model`` (read where the proxy keeps its router)."""
    proxy_server = sys.modules.get("litellm.proxy.proxy_server")
    listing = getattr(getattr(proxy_server, "llm_router", None), "get_model_list", None)
    found = listing(model_name=model) if callable(listing) else None
    return list(found) if isinstance(found, list) else []


def _deployment_id(deployment: Mapping[str, Any]) -> str | None:
    info = deployment.get("model_info")
    identity = info.get("id") if isinstance(info, Mapping) else None
    return str(identity) if identity is not None else None


def _candidate(deployment: Mapping[str, Any], quotas: Quotas) -> Candidate | None:
    """A Claude Code deployment as a pool candidate; None for any other deployment."""
    params = deployment.get("litellm_params")
    model = params.get("model") if isinstance(params, Mapping) else None
    identity = _deployment_id(deployment)
    if not isinstance(model, str) or not model.startswith("claude-code/") or identity is None:
        return None
    info = deployment.get("model_info")
    try:
        settings = parse_settings(info.get(SETTINGS_KEY) if isinstance(info, Mapping) else None)
    except SettingsError:
        return None  # refused at start-up already (config_check); not ours to route
    return Candidate(identity, quotas.of(identity), settings.extra_usage == "allow", settings.warning_threshold)


def failed_tool_calls(messages: object) -> list[str]:
    """Ids of Anthropic tool_result blocks marked ``is_error`` in a /v1/messages body."""
    failed = []
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") == "tool_result" and block.get("is_error") is True:
                failed.append(str(block.get("tool_use_id")))
    return failed


# Responses tool types that reach the model: functions, namespaces (flattened to <namespace>__<name>
# functions), and custom (freeform) tools, which LiteLLM's
# adapter turns into functions taking one string; web search is reported by the provider.
CARRIED_RESPONSES_TOOLS = frozenset({"function", "custom", "namespace", "web_search", "web_search_preview"})


def _has_content(chunk: Any) -> bool:
    choices = getattr(chunk, "choices", None) or []
    delta = getattr(choices[0], "delta", None) if choices else None
    return bool(delta is not None and (getattr(delta, "content", None) or getattr(delta, "tool_calls", None)))


def _refuse_malformed(data: dict[str, Any]) -> None:
    """Chat messages of the wrong shape are a 400 naming the problem.

    Checked before LiteLLM's own pre-processing, which otherwise fails on some
    shapes (content that is a number, say) with a 500.
    """
    messages = data.get("messages")
    if messages is None:
        return  # not a chat request (embeddings, /v1/messages, ...): not ours to judge
    try:
        check_shapes(messages)
    except PromptError as error:
        raise HTTPException(status_code=400, detail={"error": f"invalid request: {error}"}) from None
    response_format = data.get("response_format")
    if response_format is not None and not isinstance(response_format, dict):
        # LiteLLM's own conversion raises a TypeError on it, which leaves as a 500.
        problem = f"response_format must be an object with a type, got {json.dumps(response_format)[:60]}"
        raise HTTPException(status_code=400, detail={"error": f"invalid request: {problem}"})
