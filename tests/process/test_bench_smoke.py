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
    results = run_all.collect(run_all.QUICK, "sqlite", 1)
    assert results["engine"][0]["published"] == run_all.QUICK["engine"]["posts"]
    assert results["burst"][0]["published"] == run_all.QUICK["burst"]["posts"]
    assert results["ontime"]["published"] == results["ontime"]["posts"] > 0
    assert results["idle"][0]["rss_mb"] > 0 and results["idle"][0]["worker_rss_mb"] > 0
    assert results["api"][0]["create"]["errors"] == 0
    assert results["api"][0]["create"]["requests"] > 0
    assert results["seed"]["seed_s"] > 0 and results["seed"]["herald_s"] > 0
    upload = results["upload"]
    assert upload["stored"] == run_all.QUICK["upload"]["uploads"]
    assert upload["peak_rss_mb"] >= upload["idle_rss_mb"] > 0
    text = run_all.render(results, run_all.QUICK, 1.0)
    assert "### Burst" in text and "### The seed's design" in text and "### Upload memory" in text
    assert results["import"][0]["posts"] == run_all.QUICK["import"]["rows"]
    assert text.startswith(run_all.START) and text.endswith(run_all.END)
    # One row per figure the issue sets, each judged from the run.
    figures = [name for name, *_ in run_all.targets(results)]
    assert figures[0].startswith("on time") and "idle worker, sqlite" in figures


def test_the_median_run_is_reported_with_every_run():
    runs = iter([{"s": 3.0, "n": 1}, {"s": 1.0, "n": 2}, {"s": 2.0, "n": 3}])
    fast = run_all.repeated(3, "s", lambda: next(runs), lower_is_better=True)
    assert fast == {"s": 2.0, "n": 3, "runs": [1.0, 2.0, 3.0]}
    runs = iter([{"s": 3.0}, {"s": 1.0}])
    assert run_all.repeated(2, "s", lambda: next(runs))["s"] == 3.0  # of two middles, the better


def test_a_full_run_rewrites_only_its_own_section_of_the_page():
    page = f"# Benchmarks\n\nIntro.\n\n{run_all.START}\nold\n{run_all.END}\n\n## Notes\nkept\n"
    new = run_all.spliced(page, f"{run_all.START}\nnew\n{run_all.END}")
    assert new == page.replace("old", "new")
    fresh = run_all.spliced("# Benchmarks\nNotes.\n", f"{run_all.START}\nx\n{run_all.END}")
    assert fresh == f"# Benchmarks\n\n{run_all.START}\nx\n{run_all.END}\nNotes.\n"


def test_the_upload_streaming_benchmark_runs_at_a_small_size():
    from bench import upload_stream

    result = upload_stream.run(2)
    assert result["status"] == 201 and result["megabytes"] == 2


def test_the_import_benchmark_runs_at_a_small_size(tmp_path):
    from bench import import_csv

    result = import_csv.run("sqlite", 20, str(tmp_path))
    assert result["posts"] == result["queued"] == 20
    assert result["dry_run_s"] >= 0 and result["import_s"] >= 0
    text = run_all.render({**_empty_results(), "import": [result]}, run_all.QUICK, 1.0)
    assert "### Bulk import" in text and "| sqlite | 20 |" in text


def _empty_results():
    """The smallest results render() takes, for checking one section alone."""
    return {"engine": [], "burst": [], "idle": [], "api": [],
            "ontime": {"rate_per_s": 1, "seconds": 1, "published": 0, "posts": 0,
                       "lateness_p50_ms": None, "lateness_p99_ms": None,
                       "lateness_max_ms": None, "early": 0},
            "seed": {"posts": 1, "tick_s": 1.0, "latency_s": 0.1, "seed_s": 1, "herald_s": 1,
                     "ratio": 1},
            "upload": {"uploads": 1, "width": 1, "height": 1, "stored": 1, "seconds": 1,
                       "idle_rss_mb": 1, "peak_rss_mb": 1}}


def test_the_scale_benchmark_runs_at_a_small_size(tmp_path):
    from bench import scale

    url, fill_s = scale.prepare("sqlite", 200, 20, str(tmp_path), reuse=False)
    assert fill_s is not None
    assert scale.prepare("sqlite", 200, 20, str(tmp_path), reuse=True) == (url, None)
    row = scale.measure("sqlite", url, 200, idle_seconds=1)
    assert row["accounts"] == 20
    assert row["drain"]["published"] == row["drain"]["posts"] == 1000
    assert row["http"]["api_create_errors"] == 0
    figures = scale.summary(row)
    assert figures["page_calendar_month"] > 0 and figures["api_page_50"] > 0
    assert figures["kept_rows"] > 0
    from bench import scale_report

    both = scale.combined([figures, figures])
    table = scale_report.render([both, {**both, "posts": 2000, "drain_s": both["drain_s"] * 2}])
    assert table.startswith("| figure | 200 | 2k | 2k/200 |")
    [drained] = [line for line in table.splitlines() if "drained" in line]
    assert drained.endswith("| 2.00 |")
    assert table.splitlines()[-1].count("|") == 5


@pytest.mark.skipif("postgresql" not in os.environ.get("HERALD_TEST_ENGINES", "postgresql"),
                    reason="Procrastinate and Herald's side of bench.peers use PostgreSQL")
def test_the_peers_benchmark_runs_herald_procrastinate_and_celery_at_a_small_size():
    from bench import peers

    out = peers.run(posts=60, burst=30, workers=2, concurrency=10, latency=0.05, accounts=3,
                    lead=4, dup_posts=6, dup_ahead=7, visibility=2, dup_settle=3)
    by = {key: {r["system"]: r for r in out[key]} for key in ("engine", "burst", "duplicates")}
    for system in peers.SYSTEMS:
        assert by["engine"][system]["done"] == 60
        assert by["burst"][system]["published"] >= 30
        assert by["burst"][system]["calls"]["ran"] == 30
        assert by["duplicates"][system]["calls"]["never"] == 0
    # Herald and Procrastinate lock the job in the database: one call a post. Celery's
    # count is what the benchmark reports (its ETA outlived the visibility timeout).
    assert by["burst"]["herald"]["calls"]["more_than_once"] == 0
    assert by["duplicates"]["herald"]["calls"]["more_than_once"] == 0
    assert by["duplicates"]["procrastinate"]["calls"]["more_than_once"] == 0
    assert set(out["ratios"]) == {"engine herald/procrastinate", "burst drain procrastinate/herald",
                                  "engine herald/celery", "burst drain celery/herald"}
    assert "dup     celery" in peers.render(out)
