"""bench/soak.py at a tiny size (about 30 s on SQLite), so the soak keeps working. No
figure is asserted: the soak measures; this checks that it runs, measures each process
and judges exactly-once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench import soak

pytestmark = pytest.mark.skipif(
    "sqlite" not in os.environ.get("HERALD_TEST_ENGINES", "sqlite"),
    reason="the smoke run uses SQLite")


def test_the_soak_runs_measures_every_process_and_judges_exactly_once(tmp_path: Path) -> None:
    # 5xx answers only, retried after half a second: a dropped answer would wait out the
    # default 30 s backoff before it is reconciled, which the soak itself does.
    opts = soak.Options(engine="sqlite", minutes=0.3, rate=2, workers=2, sample=3,
                        warm_up=3, out=tmp_path, quiet=True,
                        faults=soak.FaultPlan(transient=0.05, drop=0, stall=0,
                                              stall_lost=0, reset=0, throttles=0),
                        env={"HERALD_RETRY_BASE_SECONDS": "0.5"})
    ok, result = soak.run(opts)
    assert ok, result.get("verdict")
    assert result["posts"] > 0 and result["api_errors"] == 0
    assert result["serve_rss_mb"]["last"] > 0
    assert set(result["workers"]) == {"worker-1", "worker-2"}
    assert all(w["rss_mb"]["last"] > 0 for w in result["workers"].values())
    assert set(result["fds"]) == {"serve", "worker-1", "worker-2"}
    text = soak.render(result)
    assert "MB/h" in text and text.endswith("PASS")
    assert (tmp_path / "soak.json").exists()


def test_the_slope_is_per_hour() -> None:
    assert soak.slope_per_hour([(0, 100.0), (1800, 101.0), (3600, 102.0)]) == pytest.approx(2.0)
    assert soak.slope_per_hour([(0, 1.0)]) is None
