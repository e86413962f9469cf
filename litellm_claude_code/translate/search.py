"""Web search asked for by a client -> Claude Code's WebSearch tool, and its results -> citations.

A client asks for search with ``web_search_options`` (chat; LiteLLM's
adapters make the same of a ``web_search`` tool on ``/v1/responses`` and of
Anthropic's ``web_search`` server tool on ``/v1/messages``). The model then
gets Claude Code's WebSearch tool for that request only: the CLI runs the
search as a separate Messages request with Anthropic's ``web_search`` server
tool, so the search is Anthropic's, on the account, and nothing is fetched
from this machine. A ``PreToolUse`` hook lets the search run and sets the
client's domain filters on every call, whatever the model asked for.

The CLI hands the model the results as a tool result (titles and URLs) and
asks it to cite them as markdown links; ``Sources`` keeps the URLs and
``annotations`` turns the links in the answer into OpenAI ``url_citation``
annotations.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import claude_agent_sdk as sdk
from litellm.types.llms.openai import ChatCompletionAnnotation, ChatCompletionAnnotationURLCitation
from litellm.types.responses.main import build_web_search_call

from ..errors import Failure

TOOL = "WebSearch"  # Claude Code's built-in tool; WebFetch is never enabled
CONTEXT_SIZES = ("low", "medium", "high")
LOCATION_FIELDS = ("city", "country", "region", "timezone")
OPTIONS = ("search_context_size", "user_location", "filters", "allowed_domains", "blocked_domains")
# What Claude Code's WebSearch tool cannot carry upstream: it sends only domain filters.
UNCARRIED = {
    "user_location": "web search: user_location cannot be passed to Claude's search: ignored",
    "search_context_size": "web search: search_context_size has no Claude equivalent: ignored",
}
# How the CLI words a search the API refused, in the WebSearch tool's error
# result: the only place the status is given (no structured field carries it).
_API_ERROR = re.compile(r"API Error: (?P<status>[45]\d\d)\b[ :]*(?P<message>.*)", re.S)
# Set in a /v1/responses request's metadata by the proxy's hook (proxy.responses_search):
# the key under which the answer's web_search_call items are published (PUBLISHED).
WEB_SEARCH_CALLS_METADATA_KEY = "claude_code_web_search_calls"
# Set in a /v1/messages request's metadata by the proxy's hook (proxy.messages_search): the key
# under which the API's own blocks of the answer's searches are published (PUBLISHED_BLOCKS).
WEB_SEARCH_BLOCKS_METADATA_KEY = "claude_code_web_search_blocks"
# The blocks of the API's answer to a search that a /v1/messages answer carries, as the API gave them.
SEARCH_BLOCK_TYPES = ("server_tool_use", "web_search_tool_result")
# A markdown link [text](url), or a bare URL, in the answer.
_LINK = re.compile(r"\[(?P<text>[^\]]*)\]\((?P<url>[^)\s]+)\)|(?P<bare>https?://[^\s)\]>\"']+)")


class SearchError(ValueError):
    """``web_search_options`` that cannot be honoured (a 400 naming the field)."""


@dataclass(frozen=True)
class SearchSpec:
    """A request's web search: the client's domain filters, and what it asked for that cannot be carried."""

    allowed_domains: tuple[str, ...] = ()
    blocked_domains: tuple[str, ...] = ()
    uncarried: tuple[str, ...] = ()


def _domains(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(d, str) and d and " " not in d for d in value):
        raise SearchError(f"{where} must be a list of domain names")
    return tuple(value)


def _check_location(value: object) -> None:
    where = "web_search_options.user_location"
    if not isinstance(value, Mapping) or value.get("type", "approximate") != "approximate":
        raise SearchError(f"{where} must be {{'type': 'approximate', 'approximate': {{...}}}}")
    unknown = sorted(set(value) - {"type", "approximate"})
    if unknown:
        raise SearchError(f"{where} has unknown fields {unknown}")
    approximate = value.get("approximate")
    if approximate is None:
        return
    if not isinstance(approximate, Mapping):
        raise SearchError(f"{where}.approximate must be an object with {list(LOCATION_FIELDS)}")
    unknown = sorted(set(approximate) - set(LOCATION_FIELDS))
    if unknown:
        raise SearchError(f"{where}.approximate has unknown fields {unknown}")
    for name, item in approximate.items():
        if item is not None and not isinstance(item, str):
            raise SearchError(f"{where}.approximate.{name} must be a string")


def search_spec(params: Mapping[str, Any]) -> SearchSpec | None:
    """Read ``web_search_options``: None when the request does not ask for search."""
    if "web_search_options" not in params or params["web_search_options"] is None:
        return None
    options = params["web_search_options"]
    if not isinstance(options, Mapping):
        raise SearchError("web_search_options must be an object")
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise SearchError(f"web_search_options has unknown fields {unknown}; known: {list(OPTIONS)}")
    size = options.get("search_context_size")
    if size is not None and size not in CONTEXT_SIZES:
        raise SearchError(f"web_search_options.search_context_size must be one of {list(CONTEXT_SIZES)}, got {size!r}")
    location = options.get("user_location")
    if location is not None:
        _check_location(location)
    filters = options.get("filters")
    if filters is not None and (not isinstance(filters, Mapping) or set(filters) - {"allowed_domains"}):
        raise SearchError("web_search_options.filters must be {'allowed_domains': [...]}")
    allowed = _domains(options.get("allowed_domains"), "web_search_options.allowed_domains")
    allowed += _domains((filters or {}).get("allowed_domains"), "web_search_options.filters.allowed_domains")
    blocked = _domains(options.get("blocked_domains"), "web_search_options.blocked_domains")
    if allowed and blocked:
        raise SearchError("web_search_options: give allowed_domains or blocked_domains, not both")
    uncarried = tuple(name for name in UNCARRIED if options.get(name) is not None)
    return SearchSpec(allowed, blocked, uncarried)


def hook(spec: SearchSpec) -> sdk.HookCallback:
    """PreToolUse hook for WebSearch: run it, with the client's domain filters on every call."""

    async def allow_search(
        hook_input: sdk.HookInput, tool_use_id: str | None, context: sdk.HookContext
    ) -> sdk.HookJSONOutput:
        given = hook_input.get("tool_input")
        tool_input = dict(given) if isinstance(given, Mapping) else {}
        tool_input.pop("allowed_domains", None)
        tool_input.pop("blocked_domains", None)
        if spec.allowed_domains:
            tool_input["allowed_domains"] = list(spec.allowed_domains)
        if spec.blocked_domains:
            tool_input["blocked_domains"] = list(spec.blocked_domains)
        return {
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "allow",
                "updatedInput": tool_input,
            }
        }

    return allow_search


def refused(message: sdk.UserMessage) -> Failure | None:
    """The API's refusal of a search (the account may not search, say), from WebSearch's error result.

    The CLI would hand the refusal to the model as a tool error and the model
    would answer without the search the client asked for; the client gets the
    API's status and message instead.
    """
    blocks = message.content if isinstance(message.content, list) else []
    for block in blocks:
        if not isinstance(block, sdk.ToolResultBlock) or not block.is_error or not isinstance(block.content, str):
            continue
        found = _API_ERROR.search(block.content)
        if found:
            return Failure(status=int(found["status"]), message=found["message"].strip() or block.content)
    return None


@dataclass
class Sources:
    """The searches of one answer: how many ran, and the pages they found (url -> title)."""

    searches: int = 0
    pages: dict[str, str] = field(default_factory=dict)

    def add(self, result: object) -> None:
        """A WebSearch tool result (``UserMessage.tool_use_result``) as the CLI reports it."""
        if not isinstance(result, Mapping) or "query" not in result:
            return
        count = result.get("searchCount")
        self.searches += count if isinstance(count, int) and not isinstance(count, bool) else 0
        for item in result.get("results") or []:
            content = item.get("content") if isinstance(item, Mapping) else None
            for page in content if isinstance(content, list) else []:
                url = page.get("url") if isinstance(page, Mapping) else None
                if isinstance(url, str) and url:
                    self.pages.setdefault(url, str(page.get("title") or url))

    def annotations(self, text: str) -> list[ChatCompletionAnnotation]:
        """OpenAI ``url_citation`` annotations for the found pages the answer ``text`` links to."""
        found: list[ChatCompletionAnnotation] = []
        for match in _LINK.finditer(text):
            url = match.group("url") or match.group("bare")
            url = url.rstrip(".,;:") if match.group("bare") else url
            if url not in self.pages:
                continue
            end = match.start() + len(url) if match.group("bare") else match.end()
            citation = ChatCompletionAnnotationURLCitation(
                url=url, title=self.pages[url], start_index=match.start(), end_index=end
            )
            found.append(ChatCompletionAnnotation(type="url_citation", url_citation=citation))
        return found


def _urls(result: object) -> list[str]:
    """The pages a WebSearch tool result (``UserMessage.tool_use_result``) found, in order."""
    urls: list[str] = []
    for item in result.get("results") or [] if isinstance(result, Mapping) else []:
        content = item.get("content") if isinstance(item, Mapping) else None
        for page in content if isinstance(content, list) else []:
            url = page.get("url") if isinstance(page, Mapping) else None
            if isinstance(url, str) and url and url not in urls:
                urls.append(url)
    return urls


class SearchCalls:
    """The model's WebSearch calls in one answer, as OpenAI ``web_search_call`` items, in the order they ran.

    One item per WebSearch call: its id is the call's (``ws_<tool_use id>``, as
    LiteLLM's own Anthropic provider names them), its query the one the model
    asked for, its ``action.sources`` the pages found. Claude Code's search may
    run several searches for one call; their own queries are not reported (the
    CLI keeps only the pages), so they are not items of their own.
    """

    def __init__(self) -> None:
        self._queries: dict[str, str] = {}  # WebSearch tool_use id -> the query asked
        self.items: list[dict[str, Any]] = []

    def called(self, message: sdk.AssistantMessage) -> None:
        """The model's turn: note its WebSearch calls."""
        for block in message.content:
            if isinstance(block, sdk.ToolUseBlock) and block.name == TOOL:
                query = block.input.get("query")
                self._queries[block.id] = query if isinstance(query, str) else ""

    def answered(self, message: sdk.UserMessage) -> bool:
        """Claude Code's answer to a WebSearch call (its tool result): True when it made a new item."""
        result = message.tool_use_result
        searched = isinstance(result, Mapping) and "query" in result
        blocks = message.content if isinstance(message.content, list) else []
        results = [b for b in blocks if isinstance(b, sdk.ToolResultBlock)]
        made = False
        for block in results:
            if block.tool_use_id not in self._queries and not searched:
                continue
            own = result if searched and len(results) == 1 else None
            query = self._queries.get(block.tool_use_id) or (str(own.get("query") or "") if own else "")
            call = build_web_search_call(
                tool_id=block.tool_use_id,
                tool_input={"query": query},
                result={"content": [{"type": "web_search_result", "url": url} for url in _urls(own)]},
                status="failed" if block.is_error else "completed",
            )
            self.items.append(call.model_dump(mode="json", exclude_none=True))
            made = True
        return made


class Kept(Protocol):
    """The API's answers to a process's search requests, as the search forwarder kept them
    (``runtime.forwarder.Route``): each answer's content blocks, and why any could not be read."""

    @property
    def answers(self) -> Sequence[Sequence[Mapping[str, Any]]]: ...

    @property
    def unread(self) -> Sequence[str]: ...


class SearchBlocks:
    """The API's own ``server_tool_use`` and ``web_search_tool_result`` blocks of an answer's searches.

    For each WebSearch result Claude Code hands the model, the API's answer to
    that search request (kept by the search forwarder) is found by the
    ``srvtoolu_`` ids the result names, and its search blocks are taken as the
    API gave them. Never made up: a search whose answer was not kept is a
    failure the client reads (502), not an answer without its blocks.
    """

    def __init__(self) -> None:
        self.blocks: list[dict[str, Any]] = []
        self._taken: set[int] = set()  # answers whose blocks were taken

    def answered(self, message: sdk.UserMessage, kept: Kept | None) -> Failure | None:
        """A WebSearch result: its search's blocks added to ``blocks``; the failure when they are not there."""
        result = message.tool_use_result
        blocks = message.content if isinstance(message.content, list) else []
        if not isinstance(result, Mapping) or "query" not in result:
            return None
        if any(isinstance(b, sdk.ToolResultBlock) and b.is_error for b in blocks):
            return None  # the search failed (an API refusal is ``refused``): no answer of the API to show
        ids = {
            str(item["tool_use_id"])
            for item in result.get("results") or []
            if isinstance(item, Mapping) and isinstance(item.get("tool_use_id"), str)
        }
        answers = kept.answers if kept is not None else []
        found = [
            i for i, content in enumerate(answers) if i not in self._taken and (not ids or ids & _search_ids(content))
        ][: None if ids else 1]
        if not found:
            return Failure(status=502, message=_unavailable(result, ids, kept))
        for i in found:
            self._taken.add(i)
            self.blocks += [dict(b) for b in answers[i] if b.get("type") in SEARCH_BLOCK_TYPES]
        return None


def _search_ids(content: Sequence[Mapping[str, Any]]) -> set[str]:
    return {str(b.get("id")) for b in content if b.get("type") == "server_tool_use"}


def _unavailable(result: Mapping[str, Any], ids: set[str], kept: Kept | None) -> str:
    search = ", ".join(sorted(ids)) or repr(result.get("query"))
    if kept is None:
        why = "the proxy's search forwarder is not running"
    elif kept.unread:
        why = f"the proxy's search forwarder could not read it ({kept.unread[-1]})"
    else:
        why = "it did not pass through the proxy's search forwarder"
    return (
        f"web search: the API's answer to the search ({search}) is not available: {why}; "
        "its server_tool_use and web_search_tool_result blocks cannot be given"
    )


class Published:
    """The ``web_search_call`` items of answers in progress, by request, for the proxy's /v1/responses hook.

    The provider publishes an answer's items as its searches complete (before
    the answer's text, so a streamed response can send them first); the hook
    takes them. A request retried publishes again under the same key, and its
    items replace the failed attempt's. Bounded: the items of a request whose
    hook never takes them (it failed) do not pile up.
    """

    def __init__(self, limit: int = 1000) -> None:
        self._limit = limit
        self._items: OrderedDict[str, tuple[dict[str, Any], ...]] = OrderedDict()

    def put(self, key: str, items: tuple[dict[str, Any], ...]) -> None:
        self._items[key] = items
        self._items.move_to_end(key)
        while len(self._items) > self._limit:
            self._items.popitem(last=False)

    def get(self, key: str) -> tuple[dict[str, Any], ...]:
        return self._items.get(key, ())

    def pop(self, key: str) -> tuple[dict[str, Any], ...]:
        return self._items.pop(key, ())


# One per process: the provider and the proxy's hooks run in the same one.
PUBLISHED = Published()  # /v1/responses: web_search_call items
PUBLISHED_BLOCKS = Published()  # /v1/messages: the API's search blocks
