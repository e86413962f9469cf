"""A loopback forwarder in front of a search process's API, which keeps the API's answers to its searches.

Claude Code's WebSearch tool runs a search as a Messages request of its own
offering Anthropic's ``web_search`` server tool, and hands the model only the
titles and URLs of the API's answer; the ``server_tool_use`` and
``web_search_tool_result`` blocks (each result's ``encrypted_content``) never
leave the CLI. So a process started for a searched request gets its API
(``ANTHROPIC_BASE_URL``) pointed at a route of this server, by an unguessable
path of its own (``/forward/<token>``: several searches at once never mix),
and every request of that process is forwarded to the deployment's real API
(its ``base_url``, the proxy's ``ANTHROPIC_BASE_URL``, else Anthropic's):
method, path, query, headers (the account's token with them) and body as
the CLI sent them, the answer's status, headers and bytes as the API sent
them, streamed as they come. The answer to a request offering the
``web_search`` tool is also read (``translate.api_answer``) and its content
blocks kept on the route, for the request's answer (``translate.search``).

One change to what the CLI sends: on a search request only, an
``accept-encoding`` naming encodings this server cannot read is narrowed to
those it can (gzip, deflate), so the answer can be read; the CLI decodes them
as well. Nothing is logged of a request but its route's API host and why
reading an answer failed; nothing is kept but the search answers' blocks,
dropped with the route when its process closes. The server listens on
127.0.0.1 only, and is started on the first search, off the path of every
other request.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from ..translate.api_answer import Answer, Unreadable

logger = logging.getLogger(__name__)

# The API a deployment without a base URL (and a proxy without ANTHROPIC_BASE_URL) talks to, as Claude Code's.
ANTHROPIC_API = "https://api.anthropic.com"
# Hop-by-hop headers (RFC 9110 7.6.1) and the ones the two connections set for themselves.
_NOT_FORWARDED = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
_READABLE_ENCODINGS = "gzip, deflate"


class Route:
    """One process's way to its API through the forwarder, and the search answers it kept, in order."""

    def __init__(self, forwarder: Forwarder, token: str, upstream: str, url: str) -> None:
        self._forwarder = forwarder
        self.token, self.upstream, self.url = token, upstream.rstrip("/"), url
        self.answers: list[list[dict[str, Any]]] = []  # each search answer's content blocks
        self.unread: list[str] = []  # why search answers could not be read

    def close(self) -> None:
        """No more requests through it; what it kept goes with it."""
        self._forwarder.drop(self.token)


class Forwarder:
    """The loopback server every search process's API goes through (see the module's docstring)."""

    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._port: int | None = None

    async def route(self, upstream: str) -> Route:
        """A new route to ``upstream`` (an API base URL); raises ``OSError`` when the server cannot start."""
        port = await self._started()
        token = secrets.token_urlsafe(24)
        route = Route(self, token, upstream, f"http://127.0.0.1:{port}/forward/{token}")
        self._routes[token] = route
        return route

    def drop(self, token: str) -> None:
        self._routes.pop(token, None)

    async def _started(self) -> int:
        if self._port is None:
            app = web.Application(client_max_size=256 * 1024 * 1024)
            app.router.add_route("*", "/forward/{token}/{tail:.*}", self._forward)
            runner = web.AppRunner(app, handle_signals=False, access_log=None)
            await runner.setup()
            try:
                site = web.TCPSite(runner, "127.0.0.1", 0)
                await site.start()
            except BaseException:
                await runner.cleanup()
                raise
            sockets = getattr(site._server, "sockets", None) or []
            self._session = aiohttp.ClientSession(
                auto_decompress=False,  # the bytes go on as the API sent them
                trust_env=True,  # HTTPS_PROXY and friends, as the CLI would honour them
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                connector=aiohttp.TCPConnector(limit=0),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=60),
            )
            self._runner, self._port = runner, int(sockets[0].getsockname()[1])
        return self._port

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        route = self._routes.get(request.match_info["token"])
        if route is None:
            return _error(404, "not_found_error", "no such route")
        body = await request.read()
        search = request.method == "POST" and _offers_web_search(body)
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED or _kept_alive(k, v)]
        if search:
            headers = _narrow_encodings(headers)
        url = f"{route.upstream}/{request.match_info['tail']}"
        if request.query_string:
            url += f"?{request.query_string}"
        assert self._session is not None, "started with the server"
        try:
            upstream = await self._session.request(
                request.method, url, headers=headers, data=body or None, allow_redirects=False
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            host = urlsplit(route.upstream).netloc
            logger.warning("search forwarder: %s unreachable: %s", host, type(error).__name__)
            return _error(502, "api_error", f"the proxy's search forwarder could not reach {host}: {error}")
        async with upstream:
            return await self._relay(request, upstream, route if search else None)

    async def _relay(
        self, request: web.Request, upstream: aiohttp.ClientResponse, route: Route | None
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for name, value in upstream.headers.items():
            if name.lower() not in _NOT_FORWARDED:
                response.headers.add(name, value)
        if upstream.content_length is not None and "transfer-encoding" not in upstream.headers:
            response.content_length = upstream.content_length
        answer = _reader(upstream, route) if route is not None and upstream.status == 200 else None
        await response.prepare(request)
        async for data in upstream.content.iter_any():
            # read before the CLI gets it: its tool result must not come back before the answer is kept
            answer = _read(answer, route, data)
            await response.write(data)
        if answer is not None and route is not None:
            try:
                route.answers.append(answer.finish())
            except Unreadable as error:
                _unread(route, error)
        await response.write_eof()
        return response

    async def close(self) -> None:
        self._routes.clear()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner, self._session, self._port = None, None, None


def _reader(upstream: aiohttp.ClientResponse, route: Route) -> Answer | None:
    try:
        return Answer(upstream.headers.get("content-type", ""), upstream.headers.get("content-encoding", ""))
    except Unreadable as error:
        _unread(route, error)
        return None


def _read(answer: Answer | None, route: Route | None, data: bytes) -> Answer | None:
    """``answer`` fed ``data``; None once it is read (kept on the route) or cannot be (why, on the route)."""
    if answer is None or route is None:
        return None
    try:
        answer.feed(data)
    except Unreadable as error:
        _unread(route, error)
        return None
    if answer.done:
        route.answers.append(answer.content())
        return None
    return answer


def _unread(route: Route, error: Unreadable) -> None:
    logger.warning("search forwarder: the API's answer to a search could not be read: %s", error)
    route.unread.append(str(error))


def _offers_web_search(body: bytes) -> bool:
    """A Messages request offering the ``web_search`` server tool (what Claude Code's WebSearch tool sends)."""
    if b'"web_search_' not in body:
        return False  # the model's own requests: not parsed
    try:
        parsed = json.loads(body)
    except ValueError:
        return False
    tools = parsed.get("tools") if isinstance(parsed, Mapping) else None
    listed: list[Any] = tools if isinstance(tools, list) else []
    return any(isinstance(tool, Mapping) and str(tool.get("type", "")).startswith("web_search_") for tool in listed)


def _kept_alive(name: str, value: str) -> bool:
    """``connection: keep-alive``, which the CLI sends: true of the forwarder's own connection as well,
    so the API gets the CLI's headers as they were."""
    return name.lower() == "connection" and value.strip().lower() == "keep-alive"


def _narrow_encodings(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers with an accept-encoding naming only encodings ``api_answer`` reads."""
    out = []
    for name, value in headers:
        accepted = [part.split(";", 1)[0].strip().lower() for part in value.split(",")]
        readable = all(not a or a in ("gzip", "x-gzip", "deflate", "identity") for a in accepted)
        out.append((name, value if name.lower() != "accept-encoding" or readable else _READABLE_ENCODINGS))
    return out


def _error(status: int, kind: str, message: str) -> web.Response:
    """An error as the Messages API words one (the CLI reports its status and message)."""
    return web.json_response({"type": "error", "error": {"type": kind, "message": message}}, status=status)
