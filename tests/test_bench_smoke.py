"""Each benchmark at a tiny size, so the benchmarks keep working. No timings are asserted:
benchmarks measure, tests check behaviour."""

from __future__ import annotations

import os

import pytest

from bench import run_all

pytestmark = pytest.mark.skipif(
    "sqlite" not in os.environ.get("HERALD_TEST_ENGINES", "sqlite"),
    reason="the smoke run uses SQLite")


def test_every_benchmark_runs_at_a_small_size(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    results = run_all.collect(run_all.QUICK, "sqlite")
    assert results["engine"][0]["published"] == run_all.QUICK["engine"]["posts"]
    assert results["burst"][0]["published"] == run_all.QUICK["burst"]["posts"]
    assert results["ontime"]["published"] == results["ontime"]["posts"] > 0
    assert results["idle"][0]["rss_mb"] > 0
    assert results["api"][0]["create"]["errors"] == 0
    assert results["api"][0]["create"]["requests"] > 0
    assert results["seed"]["seed_s"] > 0 and results["seed"]["herald_s"] > 0
    text = run_all.render(results, run_all.QUICK, 1.0)
    assert "## Burst" in text and "## The seed's design" in text
