"""Bulk import: a CSV of N rows dry-run, then imported; seconds for each.

    python -m bench.import_csv --rows 10000 --engines postgresql,sqlite

The rows go through the service the API and the CLI call (`services.import_posts`), with
the real media checks: one image in Herald's local store shared by every row (probed once),
the platform's rules on every row, all rows stored in one transaction.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.common import fresh_database, seed_company, settings_for
from herald import services
from herald.models import Post, PostSchedule, utcnow
from herald.runtime import Herald

ACCOUNTS = [("facebook", f"page-{n}", f"token-{n}") for n in range(1, 6)]


def _image() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (1080, 1080), (30, 120, 200)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def make_csv(rows: int, image_url: str) -> bytes:
    """`rows` posts over five accounts named as Herald shows them, a minute apart."""
    start = utcnow() + timedelta(days=1)
    lines = ["account,run_at,caption,media,post_type"]
    for n in range(rows):
        platform, external, _ = ACCOUNTS[n % len(ACCOUNTS)]
        when = (start + timedelta(minutes=n)).replace(microsecond=0).isoformat()
        lines.append(f'{platform} {external},{when},"Post {n}, from the spreadsheet",'
                     f"{image_url},feed")
    return ("\n".join(lines) + "\n").encode()


def run(engine: str, rows: int, tmpdir: str) -> dict[str, Any]:
    url = fresh_database(engine, f"herald_bench_import_{engine}", tmpdir)
    settings = settings_for(url, media_dir=Path(tmpdir) / "media",
                            public_url="http://127.0.0.1:8000", max_import_rows=rows)
    herald = Herald.from_settings(settings)
    company, _, _ = seed_company(herald.db, herald.cipher, ACCOUNTS)
    assert herald.media_store is not None
    body = make_csv(rows, herald.media_store.save(_image(), filename="bench.jpg").url)
    ctx = herald.context(company)
    timings: dict[str, float] = {}
    for name, dry_run in (("dry_run", True), ("import", False)):
        started = time.perf_counter()
        report = services.import_posts(herald.unit_of_work, ctx, body, "text/csv",
                                       dry_run=dry_run, max_rows=rows)
        timings[name] = round(time.perf_counter() - started, 2)
        assert not report.bad_rows, report.summary()
    with herald.db.session() as session:
        posts = session.scalar(select(func.count()).select_from(Post))
        queued = session.scalar(select(func.count()).select_from(PostSchedule))
    herald.db.dispose()
    return {"engine": engine, "rows": rows, "bytes": len(body), "posts": posts,
            "queued": queued, "dry_run_s": timings["dry_run"], "import_s": timings["import"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="postgresql,sqlite")
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmpdir:
        for engine in args.engines.split(","):
            row = run(engine, args.rows, tmpdir)
            results.append(row)
            if not args.json:
                print(f"{engine:<10} {row['rows']} rows ({row['bytes'] // 1024} KB): dry run "
                      f"{row['dry_run_s']} s, import {row['import_s']} s "
                      f"({row['posts']} posts, {row['queued']} queued)", flush=True)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
