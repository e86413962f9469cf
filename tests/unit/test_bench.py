"""The benchmark's pure helpers."""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import bench
import yaml


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
    original = yaml.safe_load(bench.CONFIG.read_text())
    assert [d["model_info"]["claude_code"] for d in config["model_list"]] == [
        {**d["model_info"]["claude_code"], "max_concurrent": 3} for d in original["model_list"]
    ]
    assert config["litellm_settings"] == original["litellm_settings"]


def test_summary_has_p99() -> None:
    assert bench.summary([i / 1000 for i in range(1, 101)])["p99_ms"] == 99
