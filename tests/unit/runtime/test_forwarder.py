"""The loopback forwarder in front of a search process's API (runtime/forwarder.py, issue 29).

An upstream of the test's own (a small aiohttp app that records what reached
it) stands for the API; clients talk to the forwarder's routes with httpx.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from aiohttp import web

from litellm_claude_code.runtime.forwarder import Forwarder

SEARCH_BODY = {
    "model": "m",
    "stream": True,
    "tools": [{"type": "web_search_20250305", "name": "web_search"}],
    "messages": [{"role": "user", "content": "Perform a web search for the query: rain"}],
}
PLAIN_BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def _search_stream(use_id: str) -> list[bytes]:
    """The API's stream answering a search, one event a chunk."""
    use = {"type": "server_tool_use", "id": use_id, "name": "web_search", "input": {}}
    result = {"type": "web_search_tool_result", "tool_use_id": use_id, "content": [{"url": f"https://{use_id}"}]}
    return [
        _sse({"type": "message_start", "message": {"id": "msg", "content": []}}),
        _sse({"type": "content_block_start", "index": 0, "content_block": use}),
        _sse({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{}"}}),
        _sse({"type": "content_block_stop", "index": 0}),
        _sse({"type": "content_block_start", "index": 1, "content_block": result}),
        _sse({"type": "content_block_stop", "index": 1}),
        _sse({"type": "message_stop"}),
    ]


def _blocks(use_id: str) -> list[dict[str, Any]]:
    return [
        {"type": "server_tool_use", "id": use_id, "name": "web_search", "input": {}},
        {"type": "web_search_tool_result", "tool_use_id": use_id, "content": [{"url": f"https://{use_id}"}]},
    ]


class Upstream:
    """The API: records each request; ``answer`` writes the response."""

    def __init__(self, answer: Callable[[web.Request, web.StreamResponse], Awaitable[None]] | None = None) -> None:
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self._answer = answer
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> Upstream:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/base"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append((request.method, request.path_qs, dict(request.headers), await request.read()))
        status = 201 if self._answer is None else 200  # 201: an answer that is the upstream's own, unmistakably
        response = web.StreamResponse(status=status, headers={"x-upstream": "yes", "content-type": "text/plain"})
        if self._answer is not None:
            await self._answer(request, response)
            return response
        await response.prepare(request)
        await response.write(b"plain answer")
        await response.write_eof()
        return response


def test_a_request_goes_on_as_sent_and_its_answer_comes_back_as_sent() -> None:
    """Method, path under the base URL, query, headers (the account's token) and body; the status,
    headers and bytes of the answer. Nothing is kept of a request that is not a search."""

    async def scenario() -> None:
        async with Upstream() as upstream:
            forwarder = Forwarder()
            route = await forwarder.route(upstream.url + "/")
            assert route.url.startswith("http://127.0.0.1:")
            headers = {"authorization": "Bearer sk-ant-oat01-secret", "anthropic-beta": "a,b", "x-app": "cli"}
            async with httpx.AsyncClient() as http:
                answer = await http.post(
                    f"{route.url}/v1/messages?beta=true", headers=headers, content=json.dumps(PLAIN_BODY).encode()
                )
            await forwarder.close()
        assert (answer.status_code, answer.headers["x-upstream"], answer.content) == (201, "yes", b"plain answer")
        [(method, path, sent, body)] = upstream.seen
        assert (method, path, body) == ("POST", "/base/v1/messages?beta=true", json.dumps(PLAIN_BODY).encode())
        assert {k.lower(): v for k, v in sent.items() if k.lower() in headers} == headers
        assert sent["Connection"] == "keep-alive"  # as the client sent it (httpx does), true of both connections
        assert "User-Agent" not in sent or sent["User-Agent"].startswith("python-httpx")  # the client's own
        assert route.answers == []

    asyncio.run(scenario())


def test_a_stream_goes_on_as_it_comes() -> None:
    """The first event reaches the client while the API still holds the rest back."""
    sent_first, go_on = asyncio.Event(), asyncio.Event()

    async def answer(request: web.Request, response: web.StreamResponse) -> None:
        response.content_type = "text/event-stream"
        await response.prepare(request)
        await response.write(b"event: ping\ndata: {}\n\n")
        sent_first.set()
        await go_on.wait()
        await response.write(b"event: done\ndata: {}\n\n")
        await response.write_eof()

    async def scenario() -> None:
        async with Upstream(answer) as upstream:
            forwarder = Forwarder()
            route = await forwarder.route(upstream.url)
            async with httpx.AsyncClient() as http, http.stream("POST", f"{route.url}/v1/messages") as response:
                chunks = response.aiter_raw()
                assert await anext(chunks) == b"event: ping\ndata: {}\n\n"
                assert sent_first.is_set()
                go_on.set()
                assert b"".join([c async for c in chunks]) == b"event: done\ndata: {}\n\n"
            await forwarder.close()

    asyncio.run(scenario())


def test_searches_of_several_processes_at_once_are_kept_each_on_its_own_route() -> None:
    """Each route's search answer is kept on that route, whatever order they end in; the client
    gets the bytes as the API sent them (gzipped here, as the API sends them)."""
    release: dict[str, asyncio.Event] = {}

    async def answer(request: web.Request, response: web.StreamResponse) -> None:
        use_id = request.path.split("/")[2]  # the test puts it in the path
        response.content_type = "text/event-stream"
        response.headers["content-encoding"] = "gzip"
        await response.prepare(request)
        packer = zlib.compressobj(wbits=31)
        for number, event in enumerate(_search_stream(use_id)):
            if number == 3:
                await release[use_id].wait()
            await response.write(packer.compress(event) + packer.flush(zlib.Z_SYNC_FLUSH))
        await response.write(packer.flush())
        await response.write_eof()

    async def search(http: httpx.AsyncClient, url: str) -> bytes:
        body, accepts = json.dumps(SEARCH_BODY).encode(), {"accept-encoding": "gzip"}
        async with http.stream("POST", url, content=body, headers=accepts) as response:
            return b"".join([chunk async for chunk in response.aiter_raw()])  # as it came, still gzipped

    async def scenario() -> None:
        async with Upstream(answer) as upstream:
            forwarder = Forwarder()
            first, second = await forwarder.route(upstream.url), await forwarder.route(upstream.url)
            release.update(srvtoolu_a=asyncio.Event(), srvtoolu_b=asyncio.Event())
            async with httpx.AsyncClient() as http:
                a = asyncio.ensure_future(search(http, f"{first.url}/srvtoolu_a/v1/messages"))
                b = asyncio.ensure_future(search(http, f"{second.url}/srvtoolu_b/v1/messages"))
                release["srvtoolu_b"].set()
                body_b = await b
                assert (first.answers, second.answers) == ([], [_blocks("srvtoolu_b")])
                release["srvtoolu_a"].set()
                body_a = await a
            await forwarder.close()
        assert (first.answers, second.answers) == ([_blocks("srvtoolu_a")], [_blocks("srvtoolu_b")])
        assert gzip.decompress(body_a) == b"".join(_search_stream("srvtoolu_a"))
        assert gzip.decompress(body_b) == b"".join(_search_stream("srvtoolu_b"))

    asyncio.run(scenario())


def test_a_search_asks_only_for_encodings_it_can_read_other_requests_as_sent() -> None:
    async def scenario() -> list[str]:
        async with Upstream() as upstream:
            forwarder = Forwarder()
            route = await forwarder.route(upstream.url)
            accepts = {"accept-encoding": "gzip, deflate, br, zstd"}
            async with httpx.AsyncClient() as http:
                await http.post(f"{route.url}/v1/messages", content=json.dumps(SEARCH_BODY).encode(), headers=accepts)
                await http.post(f"{route.url}/v1/messages", content=json.dumps(PLAIN_BODY).encode(), headers=accepts)
                await http.post(
                    f"{route.url}/v1/messages",
                    content=json.dumps(SEARCH_BODY).encode(),
                    headers={"accept-encoding": "gzip"},
                )
            await forwarder.close()
        return [headers.get("Accept-Encoding", "") for _, _, headers, _ in upstream.seen]

    assert asyncio.run(scenario()) == ["gzip, deflate", "gzip, deflate, br, zstd", "gzip"]


def test_a_search_answer_that_cannot_be_read_is_passed_on_and_said_why() -> None:
    async def answer(request: web.Request, response: web.StreamResponse) -> None:
        response.content_type = "text/event-stream"
        await response.prepare(request)
        for event in _search_stream("srvtoolu_x")[:-1]:  # no message_stop
            await response.write(event)
        await response.write_eof()

    async def scenario() -> None:
        async with Upstream(answer) as upstream:
            forwarder = Forwarder()
            route = await forwarder.route(upstream.url)
            async with httpx.AsyncClient() as http:
                got = await http.post(f"{route.url}/v1/messages", content=json.dumps(SEARCH_BODY).encode())
            await forwarder.close()
        assert got.content == b"".join(_search_stream("srvtoolu_x")[:-1])
        assert (route.answers, route.unread) == ([], ["the stream ended before message_stop"])

    asyncio.run(scenario())


def test_an_api_error_is_passed_on_and_nothing_kept() -> None:
    async def answer(request: web.Request, response: web.StreamResponse) -> None:
        response.set_status(529)
        response.content_type = "application/json"
        await response.prepare(request)
        await response.write(b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}')
        await response.write_eof()

    async def scenario() -> None:
        async with Upstream(answer) as upstream:
            forwarder = Forwarder()
            route = await forwarder.route(upstream.url)
            async with httpx.AsyncClient() as http:
                got = await http.post(f"{route.url}/v1/messages", content=json.dumps(SEARCH_BODY).encode())
            await forwarder.close()
        assert (got.status_code, got.json()["error"]["type"]) == (529, "overloaded_error")
        assert (route.answers, route.unread) == ([], [])

    asyncio.run(scenario())


def test_an_unreachable_api_is_a_502_the_cli_reports_and_a_closed_route_a_404() -> None:
    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        forwarder = Forwarder()
        route = await forwarder.route("http://127.0.0.1:9")  # the discard port: nothing listens
        closed = await forwarder.route("http://127.0.0.1:9")
        closed.close()
        async with httpx.AsyncClient() as http:
            unreachable = await http.post(f"{route.url}/v1/messages", json=PLAIN_BODY)
            gone = await http.post(f"{closed.url}/v1/messages", json=PLAIN_BODY)
        await forwarder.close()
        return unreachable, gone

    unreachable, gone = asyncio.run(scenario())
    assert unreachable.status_code == 502
    error = unreachable.json()["error"]
    assert error["type"] == "api_error"
    assert error["message"].startswith("the proxy's search forwarder could not reach 127.0.0.1:9: ")
    assert (gone.status_code, gone.json()["error"]["type"]) == (404, "not_found_error")
