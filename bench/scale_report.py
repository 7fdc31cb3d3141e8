"""bench.scale's results as the table of docs/benchmarks.md: one column per size, and the
ratio of the largest size to the smallest for each figure.

    python -m bench.scale_report results.json
    python -m bench.scale_report --lines run1.log run2.log   # what bench.scale printed

With --lines, the per-size lines bench.scale prints (one JSON object each) of one or more
runs are combined: each figure the median of all the rounds of its size.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

#: (key in bench.scale.summary, what the row says), in the doc's order.
ROWS = [
    ("idle_per_s", "idle worker: statements/s (LISTEN's 30 s probe not counted)"),
    ("claim_exec_ms", "claim (nothing due): database ms"),
    ("horizon_exec_ms", "horizon (next due): database ms"),
    ("rescue_exec_ms", "rescue sweep: database ms"),
    ("claim_ms", "claim, the call from Python: ms"),
    ("horizon_ms", "horizon, the call: ms"),
    ("rescue_ms", "rescue, the call: ms"),
    ("status_db_ms", "`herald status` queries: database ms"),
    ("status_ms", "`herald status` queries, the call: ms"),
    ("drain_s", "1,000 posts due at once, drained (no-op publisher): s"),
    ("api_first_page_db_ms", "GET /api/v1/posts first page: database ms"),
    ("api_by_account_db_ms", "GET …?account_id=: database ms"),
    ("api_status_week_db_ms", "GET …?status=pending&from=&to= (a week): database ms"),
    ("api_page_50_db_ms", "GET …?cursor= (page 50): database ms"),
    ("api_first_page", "GET first page: round trip ms"),
    ("api_by_account", "GET by account: round trip ms"),
    ("api_status_week", "GET status and week: round trip ms"),
    ("api_page_50", "GET page 50: round trip ms"),
    ("api_create_p50", "POST /api/v1/posts, 8 clients: p50 ms"),
    ("api_create_p99", "POST /api/v1/posts, 8 clients: p99 ms"),
    ("kept_rows", "kept counts: rows summed (post_counts + queue_counts, after the run)"),
    ("page_calendar_month_db_ms", "calendar month page: database ms"),
    ("page_posts_db_ms", "posts list page: database ms"),
    ("page_dashboard_db_ms", "dashboard: database ms"),
    ("page_accounts_db_ms", "accounts page: database ms"),
    ("page_calendar_month", "calendar month page: server ms"),
    ("page_posts", "posts list page: server ms"),
    ("page_dashboard", "dashboard: server ms"),
    ("page_accounts", "accounts page: server ms"),
    ("posts_mb", "posts: table + indexes MB"),
    ("posts_index_mb", "posts: indexes MB"),
    ("post_schedule_mb", "post_schedule: table + indexes MB"),
    ("audit_log_mb", "audit_log: table + indexes MB"),
]


def _size(posts: int) -> str:
    if posts >= 1_000_000:
        return f"{posts // 1_000_000}M"
    return f"{posts // 1000}k" if posts >= 1000 else str(posts)


def _cell(figure: dict[str, Any], key: str) -> str:
    value = figure.get(key)
    if value is None:
        return "-"
    runs = figure.get(key + "_runs")
    spread = f" ({min(runs):g} to {max(runs):g})" if runs and len(runs) > 1 else ""
    return f"{value:g}{spread}"


def render(figures: list[dict[str, Any]]) -> str:
    """The markdown table: sizes as columns, ratio last/first as the last column."""
    head = " | ".join(_size(f["posts"]) for f in figures)
    lines = [f"| figure | {head} | {_size(figures[-1]['posts'])}/{_size(figures[0]['posts'])} |",
             "|---" * (len(figures) + 2) + "|"]
    for key, label in ROWS:
        if all(f.get(key) is None for f in figures):
            continue
        first, last = figures[0].get(key), figures[-1].get(key)
        ratio = f"{last / first:.2f}" if first and last is not None else "-"
        cells = " | ".join(_cell(f, key) for f in figures)
        lines.append(f"| {label} | {cells} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", help="the JSON bench.scale --out wrote")
    parser.add_argument("--lines", action="store_true",
                        help="the files hold bench.scale's printed lines instead")
    parser.add_argument("--engine", default="postgresql", help="with --lines: whose rows")
    args = parser.parse_args()
    if args.lines:
        print(render(from_lines(args.results, args.engine)))
        return
    with open(args.results[0]) as f:
        data = json.load(f)
    print(render(data["figures"]))
    print(f"\nLoad average at the end (1, 5, 15 min): {data.get('load')}")


def from_lines(paths: list[str], engine: str = "postgresql") -> list[dict[str, Any]]:
    """Every size's rounds on `engine` from bench.scale's printed lines, combined."""
    from bench.scale import combined

    rounds: dict[int, list[dict[str, Any]]] = {}
    for path in paths:
        with open(path) as f:
            for line in f:
                if line.startswith('{"engine"'):
                    row = json.loads(line)
                    if row["engine"] != engine:
                        continue
                    rounds.setdefault(row["posts"], []).append(row)
    return [combined(rows) for _, rows in sorted(rounds.items())]


if __name__ == "__main__":
    main()
