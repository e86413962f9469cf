"""Benchmark: what the proxy adds to what the model takes.

Starts the test suite's mock Anthropic API (instant by default) and measures, in one run:
the floor (a direct streaming request to the mock), a cold ``claude_agent_sdk.query()``, and through
the stock proxy the time to first token and total time for a fresh system prompt, a repeated one and
a continued conversation; throughput and latency at several concurrency levels; peak memory of the
proxy and its Claude Code processes. Prints a table (ratios to the cold query) and writes JSON.

    scripts/bench [--requests 20] [--concurrency 1,4,8,16] [--first-byte-ms 0] [--json-out bench-results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import claude_agent_sdk as sdk
import httpx
import yaml
from bench_rounds import print_rounds, round_targets, rounds_report

from litellm_claude_code.environment import cli_environment
from litellm_claude_code.runtime.options import QueryPlan, build_options
from litellm_claude_code.settings import DeploymentSettings
from tests.anthropic_mock import MockAnthropic, Reply
from tests.e2e.harness import CONFIG, Proxy, claude_env, descendants, run_proxy


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": percentile(values, 0.5) * 1000,
        "p95_ms": percentile(values, 0.95) * 1000,
        "p99_ms": percentile(values, 0.99) * 1000,
        "n": len(values),
    }


def table(rows: dict[str, dict[str, float]], cold_p50_ms: float) -> str:
    lines = [f"{'case':80s} {'p50 ms':>9s} {'p95 ms':>9s} {'x cold':>7s}"]
    for name, row in rows.items():
        ratio = row["p50_ms"] / cold_p50_ms if cold_p50_ms else float("nan")
        lines.append(f"{name:80s} {row['p50_ms']:9.1f} {row['p95_ms']:9.1f} {ratio:7.2f}")
    return "\n".join(lines)


def tree_rss_mib(pid: int) -> tuple[float, float, int]:
    """(RSS of ``pid``, RSS of it and all its descendants, number of descendants), MiB."""
    children = descendants(pid)
    own = _rss_kib(pid)
    return own / 1024, (own + sum(_rss_kib(p) for p in children)) / 1024, len(children)


def _cpu_ticks(pid: int, children: bool) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    # utime, stime (and cutime, cstime: reaped children) are fields 14-17, here 11-14
    return sum(int(f) for f in fields[11 : 15 if children else 13])


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` with its reaped children, plus its live descendants'."""
    ticks = _cpu_ticks(pid, children=True) + sum(_cpu_ticks(p, children=True) for p in descendants(pid))
    return ticks / os.sysconf("SC_CLK_TCK")


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class MemorySampler:
    """Peak RSS of a process and all its descendants, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_kib, self.peak_children = pid, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            children = descendants(self.pid)
            self.peak_kib = max(self.peak_kib, sum(_rss_kib(p) for p in [self.pid, *children]))
            self.peak_children = max(self.peak_children, len(children))

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def floor(mock: MockAnthropic, count: int) -> list[float]:
    body = {"model": "claude-bench", "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    out = []
    with httpx.Client(timeout=30) as client:
        for _ in range(count):
            started = time.monotonic()
            with client.stream("POST", f"{mock.url}/v1/messages", json=body) as response:
                for line in response.iter_lines():
                    if "text_delta" in line:
                        out.append(time.monotonic() - started)
                        break
    return out


async def cold_queries(mock: MockAnthropic, home: Path, count: int) -> list[float]:
    out = []
    for _ in range(count):
        env = {**claude_env(home, mock.url), **cli_environment(DeploymentSettings(), {})}
        plan = QueryPlan(model="sonnet", system_prompt="Be brief.", cwd=tempfile.mkdtemp(), env=env)
        started, first = time.monotonic(), None
        async for message in sdk.query(prompt=_one_prompt(), options=build_options(plan, DeploymentSettings())):
            if (
                first is None
                and isinstance(message, sdk.StreamEvent)
                and message.event.get("type") == "content_block_delta"
            ):
                first = time.monotonic() - started
        out.append(first if first is not None else float("nan"))
    return out


async def _one_prompt() -> Any:
    yield {"type": "user", "message": {"role": "user", "content": "hi"}, "parent_tool_use_id": None}


def stream_chat(client: httpx.Client, proxy: Proxy, messages: list[dict[str, str]]) -> tuple[float, float, str]:
    """(time to first content, total time, text) of one streamed chat completion.

    ``client`` is kept across requests, as an SDK client keeps its connection
    pool: a new ``httpx.Client`` per request costs a measurable time of its own
    (its SSL context), which is the benchmark's, not the proxy's.
    """
    headers = {"Authorization": f"Bearer {proxy.master_key}"}
    body = {"model": "sonnet", "messages": messages, "stream": True}
    started, first, text = time.monotonic(), float("nan"), ""
    with client.stream("POST", f"{proxy.url}/v1/chat/completions", headers=headers, json=body) as r:
        for line in r.iter_lines():
            if not line.startswith("data: {"):
                continue
            for choice in json.loads(line[6:]).get("choices", []):
                piece = (choice.get("delta") or {}).get("content") or ""
                if piece and text == "":
                    first = time.monotonic() - started
                text += piece
    return first, time.monotonic() - started, text


def _history(i: int, turns: int = 20) -> list[dict[str, str]]:
    """A new conversation arriving with ``turns`` earlier messages no process holds."""
    tag = uuid.uuid4().hex
    earlier = [{"role": "user" if j % 2 == 0 else "assistant", "content": f"{tag} m{j}"} for j in range(turns)]
    return [{"role": "system", "content": f"history {tag}"}, *earlier, {"role": "user", "content": "now?"}]


def proxy_cases(proxy: Proxy, count: int, pause: float) -> dict[str, tuple[list[float], list[float]]]:
    """First-token and total times of the sequential cases, ``pause`` seconds apart (0: back to back)."""
    with httpx.Client(timeout=120) as client:
        return _proxy_cases(client, proxy, count, pause)


def _proxy_cases(
    client: httpx.Client, proxy: Proxy, count: int, pause: float
) -> dict[str, tuple[list[float], list[float]]]:

    def run(make: Callable[[int], list[dict[str, str]]], keep: bool = False) -> tuple[list[float], list[float]]:
        firsts: list[float] = []
        totals: list[float] = []
        history: list[dict[str, str]] = []
        for i in range(count):
            messages = make(i) if not keep else history + make(i)
            first, total, reply = stream_chat(client, proxy, messages)
            firsts.append(first)
            totals.append(total)
            history = [*messages, {"role": "assistant", "content": reply}]
            time.sleep(pause)  # what a user's think time gives warm-up
        return firsts, totals

    system = {"role": "system", "content": "You are terse."}
    stream_chat(client, proxy, [system, {"role": "user", "content": "warm-up"}])
    time.sleep(pause)
    return {
        "new conversation, new system prompt each time": run(
            lambda i: [{"role": "system", "content": str(uuid.uuid4())}, {"role": "user", "content": "hi"}]
        ),
        "new conversation, repeated system prompt": run(lambda i: [system, {"role": "user", "content": "hi"}]),
        "new conversation carrying 20 earlier messages": run(_history),
        "continued conversation": run(
            lambda i: ([system] if i == 0 else []) + [{"role": "user", "content": f"turn {i}"}], keep=True
        ),
    }


def cpu_per_conversation(proxy: Proxy, count: int) -> float:
    """CPU seconds (proxy and Claude Code processes) per new conversation, back to back."""
    before = tree_cpu_seconds(proxy.process.pid)
    with httpx.Client(timeout=120) as client:
        for _ in range(count):
            chat = [{"role": "system", "content": str(uuid.uuid4())}, {"role": "user", "content": "hi"}]
            stream_chat(client, proxy, chat)
    return (tree_cpu_seconds(proxy.process.pid) - before) / count


async def cold_concurrent(mock: MockAnthropic, home: Path, level: int, count: int) -> float:
    """Throughput of cold ``query()`` calls, ``level`` at a time (requests per second)."""
    gate = asyncio.Semaphore(level)

    async def one() -> None:
        async with gate:
            env = {**claude_env(home, mock.url), **cli_environment(DeploymentSettings(), {})}
            plan = QueryPlan(model="sonnet", system_prompt=str(uuid.uuid4()), cwd=tempfile.mkdtemp(), env=env)
            async for _ in sdk.query(prompt=_one_prompt(), options=build_options(plan, DeploymentSettings())):
                pass

    started = time.monotonic()
    await asyncio.gather(*(one() for _ in range(count)))
    return count / (time.monotonic() - started)


async def concurrent(proxy: Proxy, level: int, count: int) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {proxy.master_key}"}
    gate = asyncio.Semaphore(level)
    latencies: list[float] = []
    statuses: list[int] = []

    async def one(client: httpx.AsyncClient) -> None:
        async with gate:
            started = time.monotonic()
            body = {"model": "sonnet", "messages": [{"role": "user", "content": str(uuid.uuid4())}]}
            response = await client.post(f"{proxy.url}/v1/chat/completions", headers=headers, json=body)
            latencies.append(time.monotonic() - started)
            statuses.append(response.status_code)

    started = time.monotonic()
    async with httpx.AsyncClient(timeout=300) as client:
        await asyncio.gather(*(one(client) for _ in range(count)))
    elapsed = time.monotonic() - started
    ok = statuses.count(200)
    return {**summary(latencies), "throughput_rps": ok / elapsed, "ok": ok, "status_429": statuses.count(429)}


async def recorded_messages(mock: MockAnthropic, home: Path) -> list[Any]:
    """One real query's SDK messages, to replay without a process."""
    env = {**claude_env(home, mock.url), **cli_environment(DeploymentSettings(), {})}
    plan = QueryPlan(model="sonnet", system_prompt="Be brief.", cwd=tempfile.mkdtemp(), env=env)
    return [
        message async for message in sdk.query(prompt=_one_prompt(), options=build_options(plan, DeploymentSettings()))
    ]


async def provider_overhead(messages: list[Any], home: Path, count: int) -> dict[str, dict[str, float]]:
    """The provider's own work per request (conversion, workspace, options, translation), no process.

    The provider's runtime starts "processes" whose client replays recorded SDK
    messages at once, so what is timed is everything the provider and its runtime
    do around the SDK.
    """
    from claude_code_provider import ClaudeCodeProvider
    from litellm_claude_code.runtime.runtime import Runtime
    from litellm_claude_code.sdk_seam import Seam

    class Replay:
        async def query(self, prompt: Any) -> None:
            async for _ in prompt:
                pass

        async def receive_response(self) -> Any:
            for message in messages:
                yield message

        async def disconnect(self) -> None:
            pass

    async def connect(options: Any) -> Any:
        return Replay()

    env = claude_env(home, "http://127.0.0.1:9")
    provider = ClaudeCodeProvider(environ=env, once=lambda: Runtime.once(Seam(connect=connect)))
    firsts, totals = [], []
    for i in range(count):
        chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": f"hi {i}"}]
        started, first = time.perf_counter(), float("nan")
        async for chunk in provider.astreaming("sonnet", chat, optional_params={}, litellm_params={}):
            if math.isnan(first) and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - started
        firsts.append(first)
        totals.append(time.perf_counter() - started)
    return {"first_token": summary(firsts), "total": summary(totals)}


async def soak(proxy: Proxy, count: int, samples: int = 10) -> dict[str, Any]:
    """``count`` requests (new and continued conversations, 4 at a time); memory sampled as they go."""
    headers = {"Authorization": f"Bearer {proxy.master_key}"}
    gate = asyncio.Semaphore(4)
    statuses: list[int] = []
    trace: list[dict[str, float]] = []

    async def one(client: httpx.AsyncClient, i: int) -> None:
        messages = [{"role": "user", "content": f"soak {i}"}]
        if i % 2:  # a continued conversation: earlier turns the proxy may or may not hold
            messages = [{"role": "user", "content": f"soak {i - 1}"}, {"role": "assistant", "content": "ok"}, *messages]
        async with gate:
            body = {"model": "sonnet", "messages": messages}
            response = await client.post(f"{proxy.url}/v1/chat/completions", headers=headers, json=body)
            statuses.append(response.status_code)
            if len(statuses) % max(1, count // samples) == 0:
                own, total, processes = tree_rss_mib(proxy.process.pid)
                trace.append({"requests": len(statuses), "proxy_mib": own, "total_mib": total, "processes": processes})

    async with httpx.AsyncClient(timeout=300) as client:
        await asyncio.gather(*(one(client, i) for i in range(count)))
    return {"requests": count, "ok": statuses.count(200), "trace": trace}


def capped_config(home: Path, cap: int) -> Path:
    """The repo's config with a session cap of ``cap`` on every deployment."""
    config = yaml.safe_load(CONFIG.read_text())
    for deployment in config["model_list"]:
        deployment["model_info"]["claude_code"] = {
            **deployment["model_info"].get("claude_code", {}),
            "max_concurrent": cap,
        }
    path = home / "capped-config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--concurrency", default="1,4,8,16")
    parser.add_argument("--first-byte-ms", type=float, default=0.0)
    parser.add_argument("--chunks", type=int, default=3)
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0)
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between sequential requests")
    parser.add_argument("--overhead-requests", type=int, default=200, help="in-process provider runs (0: skip)")
    parser.add_argument("--soak", type=int, default=2000, help="requests of the memory soak (0: skip)")
    parser.add_argument("--cpu-requests", type=int, default=50, help="conversations of the CPU measurement")
    parser.add_argument("--load", type=int, default=500, help="requests of the capped load run (0: skip)")
    parser.add_argument("--load-concurrency", type=int, default=32)
    parser.add_argument("--session-cap", type=int, default=8, help="max_concurrent for the load run")
    parser.add_argument("--rounds", type=int, default=20, help="rounds of the agent loops and turns of the chat")
    parser.add_argument("--result-bytes", type=int, default=3000, help="size of each tool result in the loops")
    parser.add_argument("--only-rounds", action="store_true", help="measure the long conversations alone")
    parser.add_argument("--json-out", default="bench-results.json")
    args = parser.parse_args()
    if args.only_rounds:
        only_rounds(args)
        return
    reply = Reply(
        chunks=[f"word{i} " for i in range(args.chunks)],
        delay=args.chunk_delay_ms / 1000,
        first_byte_delay=args.first_byte_ms / 1000,
    )
    home = Path(tempfile.mkdtemp(prefix="bench-"))
    results: dict[str, Any] = {"settings": vars(args)}
    with MockAnthropic() as mock:
        mock.default = reply
        rows = {"floor: direct streaming request to the mock": summary(floor(mock, args.requests))}
        cold = asyncio.run(cold_queries(mock, home, args.requests))
        rows["cold claude_agent_sdk.query()"] = summary(cold)
        levels = [int(x) for x in args.concurrency.split(",") if x]
        results["cold_throughput_rps"] = {
            str(n): asyncio.run(cold_concurrent(mock, home, n, max(args.requests, n * 3))) for n in levels if n == 8
        }
        with run_proxy(home, claude_env(home, mock.url)) as proxy, MemorySampler(proxy.process.pid) as memory:
            for pace, pause in (("back to back", 0.0), (f"{args.pause:g} s apart", args.pause)):
                for name, (firsts, totals) in proxy_cases(proxy, args.requests, pause).items():
                    rows[f"proxy, {pace}: {name} (first token)"] = summary(firsts)
                    rows[f"proxy, {pace}: {name} (total)"] = summary(totals)
            if args.rounds:
                results["rounds"] = rounds_report(proxy, mock, home, args.rounds, args.result_bytes)
                mock.prompt_cache = None
            results["cpu_seconds_per_conversation"] = cpu_per_conversation(proxy, args.cpu_requests)
            results["concurrency"] = {}
            for n in levels:
                asyncio.run(concurrent(proxy, n, n))  # steady traffic: the level's processes exist
                results["concurrency"][str(n)] = asyncio.run(concurrent(proxy, n, max(args.requests, n * 8)))
            if args.soak:
                results["soak"] = asyncio.run(soak(proxy, args.soak))
        results["memory"] = {"peak_rss_mib": memory.peak_kib / 1024, "peak_processes": memory.peak_children}
        if args.overhead_requests:
            recorded = asyncio.run(recorded_messages(mock, home))
            results["provider_overhead"] = asyncio.run(provider_overhead(recorded, home, args.overhead_requests))
        if args.load:
            results["load"] = load_run(mock, home, args)
    results["latency"] = rows
    print(table(rows, rows["cold claude_agent_sdk.query()"]["p50_ms"]))
    for level, row in results["concurrency"].items():
        print(
            f"concurrency {level:>3s}: {row['throughput_rps']:.2f} req/s, p50 {row['p50_ms']:.0f} ms, "
            f"p95 {row['p95_ms']:.0f} ms, p99 {row['p99_ms']:.0f} ms, ok {row['ok']}, 429 {row['status_429']}"
        )
    for level, rps in results["cold_throughput_rps"].items():
        print(f"cold query() at concurrency {level}: {rps:.2f} req/s")
    print(f"CPU seconds per new conversation (proxy + Claude Code): {results['cpu_seconds_per_conversation']:.3f}")
    print(
        f"peak memory (proxy + Claude Code processes): {results['memory']['peak_rss_mib']:.0f} MiB, "
        f"{results['memory']['peak_processes']} processes at most"
    )
    report_extras(results)
    results["targets"] = targets(results)
    if "rounds" in results:
        print_rounds(results["rounds"])
        results["targets"].update(round_targets(results["rounds"]))
    for name, (value, goal, ok) in results["targets"].items():
        print(f"target {name}: {value:.3f} (goal {goal}) {'met' if ok else 'MISSED'}")
    Path(args.json_out).write_text(json.dumps(results, indent=2))


def only_rounds(args: argparse.Namespace) -> None:
    """The long conversations alone (``--only-rounds``): uncached input and first token per round."""
    home = Path(tempfile.mkdtemp(prefix="bench-"))
    # The replica shares the home, as replicas of one deployment share its configuration: its processes
    # run in the same working directory, which Claude Code writes into every cached prompt (issue 19).
    with (
        MockAnthropic() as mock,
        run_proxy(home, claude_env(home, mock.url)) as proxy,
        run_proxy(home, claude_env(home, mock.url)) as replica,
    ):
        for each in (proxy, replica):
            stream_chat(httpx.Client(timeout=120), each, [{"role": "user", "content": "warm-up"}])
        report = rounds_report(proxy, mock, home, args.rounds, args.result_bytes, moved=replica)
    print_rounds(report)
    met = round_targets(report)
    for name, (value, goal, ok) in met.items():
        print(f"target {name}: {value:.3f} (goal {goal}) {'met' if ok else 'MISSED'}")
    Path(args.json_out).write_text(json.dumps({"settings": vars(args), "rounds": report, "targets": met}, indent=2))


def targets(results: dict[str, Any]) -> dict[str, tuple[float, str, bool]]:
    """Issue 11's targets, each as (measured, goal, met), from the back-to-back figures."""
    rows = results["latency"]
    cold = rows["cold claude_agent_sdk.query()"]["p50_ms"]
    out: dict[str, tuple[float, str, bool]] = {}
    for name in (
        "new conversation, new system prompt each time",
        "new conversation, repeated system prompt",
        "new conversation carrying 20 earlier messages",
    ):
        ratio = rows[f"proxy, back to back: {name} (first token)"]["p50_ms"] / cold
        out[f"{name}: first token p50 / cold"] = (ratio, "<= 0.25", ratio <= 0.25)
    ratio = rows["proxy, back to back: continued conversation (first token)"]["p50_ms"] / cold
    out["continued: first token p50 / cold"] = (ratio, "<= 0.15", ratio <= 0.15)
    cold_rps = results.get("cold_throughput_rps", {}).get("8")
    if cold_rps and "8" in results.get("concurrency", {}):
        times = results["concurrency"]["8"]["throughput_rps"] / cold_rps
        out["concurrency 8 throughput / cold query()"] = (times, ">= 4", times >= 4)
    cpu = results.get("cpu_seconds_per_conversation")
    if cpu is not None:
        out["CPU seconds per conversation"] = (cpu, "<= 0.1", cpu <= 0.1)
    return out


def load_run(mock: MockAnthropic, home: Path, args: argparse.Namespace) -> dict[str, Any]:
    """``--load`` requests at ``--load-concurrency`` against a proxy capped at ``--session-cap`` sessions."""
    load_home = home / "load"
    load_home.mkdir()
    config = capped_config(load_home, args.session_cap)
    with (
        run_proxy(load_home, claude_env(load_home, mock.url), config=config) as proxy,
        MemorySampler(proxy.process.pid) as memory,
    ):
        row = asyncio.run(concurrent(proxy, args.load_concurrency, args.load))
    return {
        **row,
        "concurrency": args.load_concurrency,
        "session_cap": args.session_cap,
        "peak_rss_mib": memory.peak_kib / 1024,
    }


def report_extras(results: dict[str, Any]) -> None:
    if "provider_overhead" in results:
        own = results["provider_overhead"]
        print(
            f"provider's own work (replayed SDK messages, no process): first token p50 "
            f"{own['first_token']['p50_ms']:.2f} ms, p95 {own['first_token']['p95_ms']:.2f} ms; "
            f"whole request p50 {own['total']['p50_ms']:.2f} ms"
        )
    if "soak" in results:
        trace = results["soak"]["trace"]
        print(f"soak: {results['soak']['ok']}/{results['soak']['requests']} ok; memory as it went:")
        for point in trace:
            print(
                f"  after {point['requests']:5.0f}: proxy {point['proxy_mib']:6.0f} MiB, "
                f"with Claude Code {point['total_mib']:6.0f} MiB, {point['processes']:.0f} processes"
            )
    if "load" in results:
        load = results["load"]
        print(
            f"load: {load['n']} requests at concurrency {load['concurrency']}, cap {load['session_cap']}: "
            f"ok {load['ok']}, "
            f"429 {load['status_429']}, other {load['n'] - load['ok'] - load['status_429']}; "
            f"p50 {load['p50_ms']:.0f} ms, p95 {load['p95_ms']:.0f} ms, p99 {load['p99_ms']:.0f} ms; "
            f"peak memory {load['peak_rss_mib']:.0f} MiB"
        )


if __name__ == "__main__":
    main()
