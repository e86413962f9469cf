"""The benchmark's pure helpers."""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import bench


def test_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert bench.percentile(values, 0.5) == 50
    assert bench.percentile(values, 0.95) == 95
    assert math.isnan(bench.percentile([], 0.5))


def test_summary_and_table() -> None:
    row = bench.summary([0.1, 0.2, 0.3])
    assert row == {"p50_ms": 200.0, "p95_ms": 300.0, "n": 3}
    text = bench.table({"case": row}, cold_p50_ms=400.0)
    assert "case" in text
    assert "0.50" in text
