"""A mock Anthropic Messages API for the tests and the benchmark.

The real Claude Code CLI talks to it through ``ANTHROPIC_BASE_URL``. Replies are
scripted (FIFO, then a default), every request that reached "the model" is
recorded, so tests assert on exactly what Claude would have received.

In-process: ``with MockAnthropic() as mock: ...`` (a server thread).
Out of process: ``python tests/anthropic_mock.py --port 0`` prints ``PORT n``;
``POST /_mock/script``, ``GET /_mock/requests``, ``POST /_mock/reset`` drive it.

Web search: a request that offers the ``web_search_20250305`` server tool (what
Claude Code's WebSearch tool sends, as a separate request of its own) is
answered from ``MockAnthropic.search`` as the API answers it: a
``server_tool_use`` block, a ``web_search_tool_result`` with the results the
tool's ``allowed_domains``/``blocked_domains`` let through, and text blocks
with ``web_search_result_location`` citations; its usage counts the search in
``server_tool_use.web_search_requests``. Such requests are recorded in
``searches``, not ``requests``, and take no scripted reply.

With the prompt cache on (``enable_prompt_cache()``, ``POST /_mock/prompt_cache``
or ``--prompt-cache``), each answer's ``usage`` says what Anthropic's prompt
cache would have read and written for that request (``tests.prompt_cache``),
per account, and the recorded request keeps that usage.

Long conversations (``set_context(scale, window)``, ``POST /_mock/context``):
each answer's ``usage`` says the conversation holds ``Context.tokens`` of the
request (its system prompt, tools and messages at four characters a token,
times ``scale``, so a test reaches a million tokens without sending megabytes),
and past ``window`` the mock answers as the API does a conversation too long
for the model: 400 ``invalid_request_error`` "prompt is too long: N tokens > M
maximum". Requests carrying Claude Code's summary prompt (its compaction) are
recognised by ``Recorded.asks_for_summary``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from aiohttp import web

try:  # run as a script (python tests/anthropic_mock.py) or imported from the package
    from tests.prompt_cache import CacheUsage, PromptCache
except ImportError:  # pragma: no cover - the script's own directory is on its path
    from prompt_cache import CacheUsage, PromptCache  # type: ignore[no-redef]


class Gate:
    """A point a reply waits at until the test opens it: a model that goes on when the test says so.

    Opened from the test's thread; the mock's handlers wait on it in the mock's loop.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._opened = False
        self._waiting: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def open(self) -> None:
        with self._lock:
            self._opened = True
            waiting, self._waiting = self._waiting, []
        for loop, event in waiting:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    async def passed(self) -> None:
        """Return once the gate is open (at once if it is)."""
        event = asyncio.Event()
        with self._lock:
            if self._opened:
                return
            self._waiting.append((asyncio.get_running_loop(), event))
        await event.wait()


@dataclass
class Reply:
    """One scripted answer."""

    chunks: list[str] = field(default_factory=lambda: ["Hello", " from", " the mock."])
    delay: float = 0.0  # seconds between stream events of content
    first_byte_delay: float = 0.0
    input_tokens: int = 12
    output_tokens: int = 5
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    stop_reason: str = "end_turn"
    stop_sequence: str | None = None
    model: str | None = None  # default: the requested model
    thinking: str | None = None
    tool_uses: list[dict[str, Any]] = field(default_factory=list)  # {"id","name","input"}
    status: int = 200  # an error status makes this an error reply
    error_type: str = "api_error"
    error_message: str = "mock error"
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # never answer
    stall_after: int | None = None  # stop sending after this many content chunks (until ``gate`` opens)
    # Without stall_after: the answer's first byte waits for the gate; with it, the rest of the answer.
    gate: Gate | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        return cls(**data)


@dataclass
class Account:
    """One subscription, known by its OAuth token: its usage windows, reported on every answer.

    Answers carry the API's ``anthropic-ratelimit-unified-*`` headers for this
    account. Each answered request adds ``step`` to both windows. Past a full
    5-hour window the account is over its plan: with ``overage`` ``allowed`` it
    still answers, from paid extra usage (status rejected, overage allowed),
    otherwise it refuses with a 429. With ``capacity`` (weighted tokens per
    5-hour window) each answer also adds its weighted tokens to the 5-hour
    window, and ``charges`` is the mock's own accounting: what each answered
    request added to it, in order.
    """

    five_hour: float = 0.0
    seven_day: float = 0.0
    step: float = 0.0
    overage: str = "rejected"
    reset_in: int = 3600  # seconds until the 5-hour window resets, from the account's creation
    capacity: float | None = None
    answered: int = 0
    extra_usage_answers: int = 0  # answers served from extra usage
    charges: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.window_ends = int(time.time()) + self.reset_in

    @staticmethod
    def weighted(reply: Reply) -> float:
        """Tokens weighted as a Sonnet answer's list price weighs them (input 1, output 5, cache 0.1 / 1.25)."""
        return (
            reply.input_tokens
            + 5 * reply.output_tokens
            + 0.1 * reply.cache_read_input_tokens
            + 1.25 * reply.cache_creation_input_tokens
        )

    def over_plan(self) -> bool:
        return self.five_hour >= 1.0 or self.seven_day >= 1.0

    def headers(self, now: int) -> dict[str, str]:
        ends = self.window_ends
        over = self.over_plan()
        five_status = "rejected" if self.five_hour >= 1.0 else "allowed_warning" if self.five_hour >= 0.8 else "allowed"
        status = "rejected" if over else "allowed_warning" if five_status == "allowed_warning" else "allowed"
        return {
            "anthropic-ratelimit-unified-status": status,
            "anthropic-ratelimit-unified-reset": str(ends),
            "anthropic-ratelimit-unified-representative-claim": "five_hour",
            "anthropic-ratelimit-unified-5h-utilization": f"{min(self.five_hour, 1.0):.4f}",
            "anthropic-ratelimit-unified-5h-reset": str(ends),
            "anthropic-ratelimit-unified-5h-status": five_status,
            "anthropic-ratelimit-unified-7d-utilization": f"{min(self.seven_day, 1.0):.4f}",
            "anthropic-ratelimit-unified-7d-reset": str(now + 5 * 86400),
            "anthropic-ratelimit-unified-7d-status": "rejected" if self.seven_day >= 1.0 else "allowed",
            "anthropic-ratelimit-unified-overage-status": self.overage,
            "anthropic-ratelimit-unified-fallback": "available",
        }

    def answer(self, reply: Reply) -> Reply:
        """The reply this account gives: ``reply`` with its quota headers, or a 429 past its plan."""
        headers = self.headers(int(time.time()))
        if self.over_plan() and self.overage not in ("allowed", "allowed_warning"):
            headers["retry-after"] = str(max(0, self.window_ends - int(time.time())))
            return replace(
                reply, status=429, error_type="rate_limit_error", error_message="usage limit", headers=headers
            )
        self.answered += 1
        if self.over_plan():
            self.extra_usage_answers += 1
        charge = self.step + (self.weighted(reply) / self.capacity if self.capacity else 0.0)
        self.charges.append(charge)
        self.five_hour += charge
        self.seven_day += self.step
        # The headers report the window after this answer, as the API's do.
        after = self.headers(int(time.time())) if charge else headers
        return replace(reply, headers={**reply.headers, **after})


# What every one of Claude Code's compaction prompts starts with (its full, partial and
# "recent portion" summaries, in the pinned CLI): a request carrying it is Claude Code
# summarising a conversation on its own.
SUMMARY_PROMPT = "Your task is to create a detailed summary of "


@dataclass
class Context:
    """How long the mock says a conversation is, and the window of its model.

    ``tokens`` of a request: its system prompt, tools and messages as JSON at four
    characters a token, times ``scale``. Past ``window`` (when given) the request is
    answered as the API answers a prompt too long for the model.
    """

    scale: float = 1.0
    window: int | None = None

    def tokens(self, body: dict[str, Any]) -> int:
        parts = [body.get("system"), body.get("tools"), body.get("messages")]
        return math.ceil(len(json.dumps(parts, ensure_ascii=False)) / 4 * self.scale)

    def too_long(self, tokens: int) -> Reply | None:
        """The API's answer to a prompt of ``tokens`` past the window, if it is."""
        if self.window is None or tokens <= self.window:
            return None
        message = f"prompt is too long: {tokens} tokens > {self.window} maximum"
        return Reply(status=400, error_type="invalid_request_error", error_message=message)


# Tools the proxy's Claude Code offers of its own: WebSearch on a search
# request, StructuredOutput for structured output.
CLAUDE_CODE_TOOLS = frozenset({"WebSearch", "StructuredOutput"})


@dataclass
class Recorded:
    path: str
    query: str
    headers: dict[str, str]
    body: dict[str, Any]
    usage: dict[str, Any] | None = None  # what the prompt cache made of it, when it is on
    tokens: int | None = None  # the conversation's length as the mock's ``Context`` counts it, when set
    answered: list[dict[str, Any]] | None = None  # a search request's: the content of the answer it got

    def asks_for_summary(self) -> bool:
        """Whether this is Claude Code asking the model to summarise the conversation (compaction)."""
        return SUMMARY_PROMPT in json.dumps(self.body.get("messages"), ensure_ascii=False)

    def turns(self) -> list[dict[str, Any]]:
        """The conversation's user and assistant turns (Claude Code's own system notes aside)."""
        return [m for m in self.body.get("messages") or [] if m.get("role") in ("user", "assistant")]

    def tool_results(self) -> list[list[dict[str, Any]]]:
        """Per tool round of the whole conversation, the tool_result blocks of its user turn.

        Counted over every turn, not read off the last one: Claude Code puts a
        note of its own after the user's turn.
        """
        rounds = []
        for turn in self.turns():
            content = turn.get("content")
            blocks = [b for b in content if b.get("type") == "tool_result"] if isinstance(content, list) else []
            if turn["role"] == "user" and blocks:
                rounds.append(blocks)
        return rounds

    def offered(self, own: frozenset[str] = CLAUDE_CODE_TOOLS) -> dict[str, dict[str, Any]]:
        """The client's tools offered upstream (all but Claude Code's ``own``), by name, with their schemas."""
        tools = self.body.get("tools") or []
        return {t["name"]: t.get("input_schema") for t in tools if t["name"] not in own}


@dataclass
class SearchResult:
    url: str
    title: str
    text: str  # what the answer cites from the page


DEFAULT_RESULTS = [
    SearchResult("https://example.com/rain", "Rain in Example City", "It rains 120 days a year in Example City."),
    SearchResult("https://news.example.org/sun", "Sunny days ahead", "Forecasters expect a sunny week."),
]


@dataclass
class Search:
    """How the mock's web search answers: its results, or an API error (``status`` not 200)."""

    results: list[SearchResult] = field(default_factory=lambda: list(DEFAULT_RESULTS))
    status: int = 200
    error_type: str = "invalid_request_error"
    error_message: str = "web search is not enabled for this organization"
    gzip: bool = False  # the answer gzip-compressed, when the request accepts gzip


def _search_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The web search server tool a request offers, if any."""
    for tool in body.get("tools") or []:
        if isinstance(tool, dict) and str(tool.get("type", "")).startswith("web_search_"):
            return tool
    return None


def _domain_of(url: str) -> str:
    host = url.split("://", 1)[-1].split("/", 1)[0].lower()
    return host


def _matches(host: str, domains: list[str]) -> bool:
    return any(host == d.lower() or host.endswith("." + d.lower()) for d in domains)


def _search_query(body: dict[str, Any]) -> str:
    """The query Claude Code asked for: the text of the request's last user turn."""
    turns = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    content = turns[-1].get("content") if turns else ""
    text = content if isinstance(content, str) else " ".join(b.get("text", "") for b in content if isinstance(b, dict))
    marker = "Perform a web search for the query:"
    return text.split(marker, 1)[1].strip() if marker in text else text.strip()


def _search_blocks(search: Search, tool: dict[str, Any], query: str) -> list[dict[str, Any]]:
    """The content of the API's answer to a web search: the search, its results, cited text."""
    allowed, blocked = tool.get("allowed_domains") or [], tool.get("blocked_domains") or []
    found = [
        r
        for r in search.results
        if (not allowed or _matches(_domain_of(r.url), allowed)) and not _matches(_domain_of(r.url), blocked)
    ]
    use_id = f"srvtoolu_{uuid.uuid4().hex[:24]}"
    blocks: list[dict[str, Any]] = [
        {"type": "server_tool_use", "id": use_id, "name": "web_search", "input": {"query": query}},
        {
            "type": "web_search_tool_result",
            "tool_use_id": use_id,
            "content": [
                {
                    "type": "web_search_result",
                    "url": r.url,
                    "title": r.title,
                    "encrypted_content": f"enc-{i}",
                    "page_age": None,
                }
                for i, r in enumerate(found)
            ],
        },
    ]
    for i, r in enumerate(found):
        citation = {
            "type": "web_search_result_location",
            "url": r.url,
            "title": r.title,
            "encrypted_index": f"idx-{i}",
            "cited_text": r.text,
        }
        blocks.append({"type": "text", "text": r.text, "citations": [citation]})
    return blocks


def _search_block_events(block: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """How the API streams one block of a web search answer: its start, then its deltas."""
    if block["type"] == "server_tool_use":
        return {**block, "input": {}}, [{"type": "input_json_delta", "partial_json": json.dumps(block["input"])}]
    if block["type"] == "text":
        citations = [{"type": "citations_delta", "citation": c} for c in block.get("citations") or []]
        return {"type": "text", "text": ""}, [*citations, {"type": "text_delta", "text": block["text"]}]
    return block, []  # a web_search_tool_result arrives whole in its start


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _usage(reply: Reply, output_tokens: int, cached: CacheUsage | None = None) -> dict[str, Any]:
    if cached is not None:
        return {**cached.as_usage(), "output_tokens": output_tokens}
    return {
        "input_tokens": reply.input_tokens,
        "output_tokens": output_tokens,
        "cache_read_input_tokens": reply.cache_read_input_tokens,
        "cache_creation_input_tokens": reply.cache_creation_input_tokens,
        # The real API splits cache writes by TTL; Claude Code reports this split,
        # and LiteLLM prices cache writes from it.
        "cache_creation": {
            "ephemeral_5m_input_tokens": reply.cache_creation_input_tokens,
            "ephemeral_1h_input_tokens": 0,
        },
    }


def _long(reply: Reply, cached: CacheUsage | None, tokens: int, scale: float) -> tuple[Reply, CacheUsage | None]:
    """``reply`` and the prompt cache's usage as a conversation of ``tokens`` reports them."""
    if cached is None:
        return replace(reply, input_tokens=tokens, cache_read_input_tokens=0, cache_creation_input_tokens=0), None
    return reply, CacheUsage(
        input_tokens=math.ceil(cached.input_tokens * scale),
        cache_read_input_tokens=math.ceil(cached.cache_read_input_tokens * scale),
        cache_creation_5m=math.ceil(cached.cache_creation_5m * scale),
        cache_creation_1h=math.ceil(cached.cache_creation_1h * scale),
    )


def _content(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.thinking is not None:
        blocks.append({"type": "thinking", "thinking": reply.thinking, "signature": "sig"})
    if reply.chunks:
        blocks.append({"type": "text", "text": "".join(reply.chunks)})
    blocks += [{"type": "tool_use", **tool} for tool in reply.tool_uses]
    return blocks


def _message(reply: Reply, model: str, cached: CacheUsage | None = None) -> dict[str, Any]:
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": reply.model or model,
        "content": _content(reply),
        "stop_reason": reply.stop_reason,
        "stop_sequence": reply.stop_sequence,
        "usage": _usage(reply, reply.output_tokens, cached),
    }


def _block_events(reply: Reply) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(content_block_start payload, its deltas) for each block, in order."""
    events: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    if reply.thinking is not None:
        deltas = [
            {"type": "thinking_delta", "thinking": reply.thinking},
            {"type": "signature_delta", "signature": "sig"},
        ]
        events.append(({"type": "thinking", "thinking": "", "signature": ""}, deltas))
    if reply.chunks:
        events.append(({"type": "text", "text": ""}, [{"type": "text_delta", "text": c} for c in reply.chunks]))
    for tool in reply.tool_uses:
        start = {"type": "tool_use", "id": tool["id"], "name": tool["name"], "input": {}}
        events.append((start, [{"type": "input_json_delta", "partial_json": json.dumps(tool["input"])}]))
    return events


class MockAnthropic:
    """The mock server; thread-backed when used in-process."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.requests: list[Recorded] = []
        self.other_requests: list[Recorded] = []
        self.searches: list[Recorded] = []  # requests that offered the web search server tool
        self.search = Search()
        self.default = Reply()
        self.accounts: dict[str, Account] = {}  # by OAuth token: each answers with its own quota
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)  # notified as each request is recorded
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self.prompt_cache: PromptCache | None = None
        self.context: Context | None = None
        # Chooses the reply by the request body, before the script (None: the script's turn).
        self.responder: Callable[[dict[str, Any]], Reply | None] | None = None

    # -- scripting ----------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.other_requests.clear()
            self.searches.clear()
            self.search = Search()
            self.default = Reply()
            self.prompt_cache = None
            self.context = None
            self.responder = None
            self.accounts = {}

    def enable_prompt_cache(self, minimum_tokens: int = 0) -> PromptCache:
        """Answer with the usage Anthropic's prompt cache would give (until the next reset)."""
        with self._lock:
            self.prompt_cache = PromptCache(minimum_tokens=minimum_tokens)
            return self.prompt_cache

    def set_context(self, scale: float = 1.0, window: int | None = None) -> Context:
        """Report usage that grows with the conversation, and refuse past ``window`` (until the next reset)."""
        with self._lock:
            self.context = Context(scale=scale, window=window)
            return self.context

    def _next_reply(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
        chosen = self.responder(body) if self.responder is not None else None
        with self._lock:
            reply = chosen or (self._queue.popleft() if self._queue else self.default)
            token = (headers or {}).get("authorization", "").removeprefix("Bearer ")
            account = self.accounts.get(token)
            return account.answer(reply) if account is not None and reply.status == 200 else reply

    def wait_for_requests(self, count: int, timeout: float = 30.0) -> list[Recorded]:
        """The requests that reached the model once there are ``count`` of them (since the last reset).

        The event a test waits on for "the turn is under way upstream"; raises TimeoutError naming
        how many arrived when fewer than ``count`` did within ``timeout`` seconds.
        """
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.requests) >= count, timeout):
                raise TimeoutError(f"{len(self.requests)} of {count} requests reached the mock within {timeout:g}s")
            return list(self.requests)

    def token_of(self, recorded: Recorded) -> str:
        """The OAuth token a request was made with."""
        return recorded.headers.get("authorization", "").removeprefix("Bearer ")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- app ----------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/messages/count_tokens", self._count_tokens)
        app.router.add_post("/_mock/script", self._control_script)
        app.router.add_get("/_mock/requests", self._control_requests)
        app.router.add_post("/_mock/reset", self._control_reset)
        app.router.add_post("/_mock/prompt_cache", self._control_prompt_cache)
        app.router.add_post("/_mock/context", self._control_context)
        app.router.add_route("*", "/{tail:.*}", self._other)
        return app

    async def _record(self, request: web.Request, into: list[Recorded]) -> Recorded:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = {"_raw": raw.decode(errors="replace")}
        headers = {k.lower(): v for k, v in request.headers.items()}
        recorded = Recorded(request.path, request.query_string, headers, body)
        with self._arrived:
            into.append(recorded)
            self._arrived.notify_all()
        return recorded

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            tool = _search_tool(json.loads(raw)) if raw else None
        except json.JSONDecodeError:
            tool = None
        if tool is not None:
            return await self._web_search(request, tool)
        recorded = await self._record(request, self.requests)
        context = self.context
        if context is not None:
            recorded.tokens = context.tokens(recorded.body)
            too_long = context.too_long(recorded.tokens)
            if too_long is not None:
                return self._error(too_long)
        reply = self._next_reply(recorded.body, recorded.headers)
        if reply.first_byte_delay:
            # A slow model is the behaviour under test here, not a wait for something.
            await asyncio.sleep(reply.first_byte_delay)
        if reply.gate is not None and reply.stall_after is None:
            await reply.gate.passed()
        if reply.hang:
            await self._wait_forever()
        if reply.status != 200:
            return self._error(reply)
        model = str(recorded.body.get("model", "claude-mock"))
        cached = self._cache_usage(recorded)
        if recorded.tokens is not None and context is not None:
            reply, cached = _long(reply, cached, recorded.tokens, context.scale)
        if recorded.body.get("stream"):
            return await self._stream(request, reply, model, cached)
        return web.json_response(_message(reply, model, cached), headers=reply.headers)

    def _cache_usage(self, recorded: Recorded) -> CacheUsage | None:
        cache = self.prompt_cache
        if cache is None:
            return None
        # The cache is the organisation's: here, the account's credential.
        account = recorded.headers.get("authorization") or recorded.headers.get("x-api-key") or ""
        cached = cache.serve(account, recorded.body)
        recorded.usage = cached.as_usage()
        return cached

    async def _web_search(self, request: web.Request, tool: dict[str, Any]) -> web.StreamResponse:
        recorded = await self._record(request, self.searches)
        search = self.search
        if search.status != 200:
            failure = Reply(status=search.status, error_type=search.error_type, error_message=search.error_message)
            return self._error(failure)
        blocks = _search_blocks(search, tool, _search_query(recorded.body))
        recorded.answered = blocks
        model = str(recorded.body.get("model", "claude-mock"))
        reply = Reply(chunks=[], output_tokens=40)
        usage = {**_usage(reply, reply.output_tokens), "server_tool_use": {"web_search_requests": 1}}
        message = {**_message(reply, model), "content": blocks, "usage": usage}
        # gzip when asked to and the client accepts it (the API compresses its answers)
        gzipped = search.gzip and "gzip" in request.headers.get("accept-encoding", "")
        packer = zlib.compressobj(wbits=31) if gzipped else None
        encoding = {"content-encoding": "gzip"} if packer is not None else {}
        if not recorded.body.get("stream"):
            whole = json.dumps(message).encode()
            body = packer.compress(whole) + packer.flush() if packer is not None else whole
            return web.Response(body=body, headers={"content-type": "application/json", **encoding})
        response = web.StreamResponse(headers={"content-type": "text/event-stream", **encoding})
        await response.prepare(request)

        async def write(data: bytes) -> None:
            packed = packer.compress(data) + packer.flush(zlib.Z_SYNC_FLUSH) if packer is not None else data
            await response.write(packed)

        start = {**message, "content": [], "stop_reason": None, "usage": _usage(reply, 1)}
        await write(_sse("message_start", {"type": "message_start", "message": start}))
        for index, block in enumerate(blocks):
            opening, deltas = _search_block_events(block)
            await write(
                _sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": opening})
            )
            for delta in deltas:
                await write(
                    _sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
                )
            await write(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        delta = {"stop_reason": "end_turn", "stop_sequence": None}
        end_usage = {"output_tokens": reply.output_tokens, "server_tool_use": {"web_search_requests": 1}}
        await write(_sse("message_delta", {"type": "message_delta", "delta": delta, "usage": end_usage}))
        await write(_sse("message_stop", {"type": "message_stop"}))
        if packer is not None:
            await response.write(packer.flush())
        await response.write_eof()
        return response

    async def _wait_forever(self) -> None:
        assert self._stopping is not None
        await self._stopping.wait()
        raise web.HTTPServiceUnavailable()

    def _error(self, reply: Reply) -> web.Response:
        body = {"type": "error", "error": {"type": reply.error_type, "message": reply.error_message}}
        return web.json_response(body, status=reply.status, headers=reply.headers)

    async def _stream(
        self, request: web.Request, reply: Reply, model: str, cached: CacheUsage | None = None
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream", **reply.headers})
        await response.prepare(request)
        message = {**_message(reply, model), "content": [], "stop_reason": None, "usage": _usage(reply, 1, cached)}
        await response.write(_sse("message_start", {"type": "message_start", "message": message}))
        sent = 0
        for index, (start, deltas) in enumerate(_block_events(reply)):
            await response.write(
                _sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})
            )
            for delta in deltas:
                if reply.stall_after is not None and sent == reply.stall_after:
                    await (reply.gate.passed() if reply.gate is not None else self._wait_forever())
                if reply.delay and sent:
                    # The pace of a model's stream, the behaviour under test; not a wait for something.
                    await asyncio.sleep(reply.delay)
                await response.write(
                    _sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
                )
                sent += 1
            await response.write(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        delta = {"stop_reason": reply.stop_reason, "stop_sequence": reply.stop_sequence}
        usage = {"output_tokens": reply.output_tokens}
        await response.write(_sse("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
        await response.write(_sse("message_stop", {"type": "message_stop"}))
        await response.write_eof()
        return response

    async def _count_tokens(self, request: web.Request) -> web.Response:
        await self._record(request, self.other_requests)
        return web.json_response({"input_tokens": 10})

    async def _other(self, request: web.Request) -> web.Response:
        await self._record(request, self.other_requests)
        body = {"type": "error", "error": {"type": "not_found_error", "message": "not mocked"}}
        return web.json_response(body, status=404)

    async def _control_script(self, request: web.Request) -> web.Response:
        payload = await request.json()
        items = payload if isinstance(payload, list) else [payload]
        self.script(*(Reply.from_dict(item) for item in items))
        return web.json_response({"queued": len(items)})

    async def _control_requests(self, request: web.Request) -> web.Response:
        with self._lock:
            data = {
                "requests": [asdict(r) for r in self.requests],
                "other": [asdict(r) for r in self.other_requests],
                "searches": [asdict(r) for r in self.searches],
            }
        return web.json_response(data)

    async def _control_prompt_cache(self, request: web.Request) -> web.Response:
        payload = await request.json()
        if payload.get("enabled", True):
            self.enable_prompt_cache(int(payload.get("minimum_tokens", 0)))
        else:
            self.prompt_cache = None
        return web.json_response({"prompt_cache": self.prompt_cache is not None})

    async def _control_context(self, request: web.Request) -> web.Response:
        payload = await request.json()
        if payload.get("enabled", True):
            window = payload.get("window")
            self.set_context(float(payload.get("scale", 1.0)), None if window is None else int(window))
        else:
            self.context = None
        return web.json_response({"context": self.context is not None})

    async def _control_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"reset": True})

    # -- lifecycle ----------------------------------------------------------

    async def serve(self) -> None:
        """Run until ``stop()`` (used by the thread and by the command line)."""
        self._stopping = asyncio.Event()
        self._runner = web.AppRunner(self.app(), handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]

    def start(self) -> MockAnthropic:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.serve())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="mock-anthropic", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)
        self._loop = None

    async def _shutdown(self) -> None:
        if self._stopping:
            self._stopping.set()
        if self._runner:
            await self._runner.cleanup()

    def __enter__(self) -> MockAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _main(port: int, prompt_cache: bool) -> None:
    mock = MockAnthropic(port=port)
    if prompt_cache:
        mock.enable_prompt_cache()
    await mock.serve()
    print(f"PORT {mock.port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--prompt-cache", action="store_true", help="usage as Anthropic's prompt cache gives it")
    arguments = parser.parse_args()
    asyncio.run(_main(arguments.port, arguments.prompt_cache))
