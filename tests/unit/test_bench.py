"""The benchmark's pure helpers."""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import bench
import bench_rounds
import yaml

from tests.e2e.harness import CONFIG


def test_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert bench.percentile(values, 0.5) == 50
    assert bench.percentile(values, 0.95) == 95
    assert math.isnan(bench.percentile([], 0.5))


def test_summary_and_table() -> None:
    row = bench.summary([0.1, 0.2, 0.3])
    assert row == {"p50_ms": 200.0, "p95_ms": 300.0, "p99_ms": 300.0, "n": 3}
    text = bench.table({"case": row}, cold_p50_ms=400.0)
    assert "case" in text
    assert "0.50" in text


def test_capped_config_sets_the_session_cap_on_every_deployment(tmp_path: Path) -> None:
    config = yaml.safe_load(bench.capped_config(tmp_path, 3).read_text())
    original = yaml.safe_load(CONFIG.read_text())
    assert [d["model_info"]["claude_code"] for d in config["model_list"]] == [
        {**d["model_info"]["claude_code"], "max_concurrent": 3} for d in original["model_list"]
    ]
    assert config["litellm_settings"] == original["litellm_settings"]


def test_summary_has_p99() -> None:
    assert bench.summary([i / 1000 for i in range(1, 101)])["p99_ms"] == 99


def _row(p50: float) -> dict[str, float]:
    return {"p50_ms": p50, "p95_ms": p50, "p99_ms": p50, "n": 1}


def test_targets_are_read_off_the_back_to_back_figures() -> None:
    names = [
        "new conversation, new system prompt each time",
        "new conversation, repeated system prompt",
        "new conversation carrying 20 earlier messages",
    ]
    latency = {"cold claude_agent_sdk.query()": _row(400.0)}
    latency.update({f"proxy, back to back: {n} (first token)": _row(100.0) for n in names[:2]})
    latency[f"proxy, back to back: {names[2]} (first token)"] = _row(120.0)  # 0.30: missed
    latency["proxy, back to back: continued conversation (first token)"] = _row(40.0)
    results = {
        "latency": latency,
        "cold_throughput_rps": {"8": 3.0},
        "concurrency": {"8": {"throughput_rps": 12.0}},
        "cpu_seconds_per_conversation": 0.2,
    }
    met = {name: ok for name, (_, _, ok) in bench.targets(results).items()}
    assert met == {
        f"{names[0]}: first token p50 / cold": True,
        f"{names[1]}: first token p50 / cold": True,
        f"{names[2]}: first token p50 / cold": False,
        "continued: first token p50 / cold": True,
        "concurrency 8 throughput / cold query()": True,
        "CPU seconds per conversation": False,
    }


def _rounds(uncached: list[float], firsts: list[float]) -> list[dict[str, float]]:
    return [{"uncached": u, "first_token_s": f} for u, f in zip(uncached, firsts, strict=True)]


def test_round_targets_compare_each_round_with_one_kept_process_and_the_late_rounds_with_the_early() -> None:
    kept = [400.0, 800.0, 800.0, 800.0]
    flat = _rounds([420.0, 800.0, 800.0, 800.0], [0.2, 0.04, 0.04, 0.04])
    report = {
        "kept_loop": kept,
        "kept_chat": [500.0, 100.0, 100.0, 100.0],
        "loop_chat": flat,
        "loop_responses": flat,
        # One round fed whole again, and late rounds slower: both targets missed.
        "loop_messages": _rounds([420.0, 800.0, 2400.0, 800.0], [0.2, 0.04, 0.04, 0.08]),
        "chat": _rounds([520.0, 100.0, 100.0, 100.0], [0.1, 0.04, 0.04, 0.04]),
    }
    targets = bench_rounds.round_targets(report)
    assert list(bench_rounds.ratios(flat, kept)) == [1.0, 1.0, 1.0]  # round 1 (tools and system) aside
    assert targets["chat loop: uncached input per round vs one kept process, worst deviation"] == (0.0, "<= 0.05", True)
    worst, _, met = targets["messages loop: uncached input per round vs one kept process, worst deviation"]
    assert (worst, met) == (2.0, False)
    assert targets["chat loop: tool-result round first token p50 / continued chat turn p50"][2]
    assert not targets["messages loop: late rounds' first token / early rounds'"][2]
    assert targets["chat: uncached input per turn vs one kept process, worst deviation"][2]


def test_long_session_targets_compare_the_last_rounds_with_the_early_ones_a_kept_process_and_a_move() -> None:
    n = bench_rounds.LONG_ROUNDS
    flat = _rounds([800.0] * n, [0.2] + [0.04] * (n - 1))
    grown = _rounds([800.0] * n, [0.2] + [0.04] * (n - 11) + [0.06] * 10)
    kept_first = [0.04] * n
    report = {
        "kept_loop": [800.0] * n,
        "kept_loop_first": kept_first,
        "kept_chat": [100.0] * n,
        "loop_chat": flat,
        "loop_responses": grown,
        "loop_messages": flat,
        "moved_chat": {"first_token_s": 0.4, "upstream_requests": 1.0, "uncached": 90.0, "cache_read": 9000.0},
        "moved_messages": {"first_token_s": 1.7, "upstream_requests": 1.0, "uncached": 90.0, "cache_read": 9000.0},
        "chat": _rounds([100.0] * n, [0.04] * n),
    }
    targets = bench_rounds.round_targets(report)
    last = f"rounds {n - 9}-{n}"
    assert targets[f"chat loop: first token, {last} / rounds 2-11"] == (1.0, "<= 1.25", True)
    assert targets[f"chat loop: first token, {last} / one kept Claude Code process's"][2]
    growth, _, met = targets[f"responses loop: first token, {last} / rounds 2-11"]
    assert (round(growth, 3), met) == (1.5, False)
    assert not targets[f"responses loop: first token, {last} / one kept Claude Code process's"][2]
    assert targets[f"chat loop: first token of the turn after a move to another replica at {n} rounds, s"][2]
    assert not targets[f"messages loop: first token of the turn after a move to another replica at {n} rounds, s"][2]
    assert not any("move" in name for name in targets if name.startswith("responses"))
