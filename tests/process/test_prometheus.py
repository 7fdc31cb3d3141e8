"""A real Prometheus (Debian's package) scrapes a running `herald run` with its bearer token,
and its query API answers for the posts Herald published."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import SECRET
from tests.process.debian import ensure_program
from tests.process.spawned import stop, wait_for
from tests.process.test_cli import HERALD, _free_port

PROMETHEUS = "/usr/bin/prometheus"
TOKEN = "prometheus-scrape-token-5678"


def test_prometheus_scrapes_herald_and_answers_for_published_posts(tmp_path: Path) -> None:
    prometheus = ensure_program(PROMETHEUS, "prometheus")
    port, prom_port = _free_port(), _free_port()
    base, prom = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{prom_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env.update(HERALD_DATABASE_URL=f"sqlite:///{tmp_path / 'herald.db'}",
               HERALD_SECRET_KEY=SECRET, HERALD_METRICS_TOKEN=TOKEN)
    out = tmp_path / "herald.out"
    (tmp_path / "prometheus.yml").write_text(json.dumps({  # YAML is a superset of JSON
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{
            "job_name": "herald", "metrics_path": "/metrics",
            "authorization": {"type": "Bearer", "credentials": TOKEN},
            "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}]}))
    procs: list[subprocess.Popen[str]] = []
    with out.open("w") as stdout:
        try:
            herald = subprocess.Popen([*HERALD, "run", "--port", str(port)], env=env,
                                      cwd=tmp_path, stdout=stdout, stderr=subprocess.STDOUT,
                                      text=True)
            procs.append(herald)
            wait_for(lambda: httpx.get(f"{base}/readyz", timeout=2).status_code == 200,
                  "Herald", procs)
            api_token = re.search(r"shown once: (hld_\S+)", out.read_text())
            assert api_token, out.read_text()
            ids = _publish_two_posts(base, api_token.group(1), procs)
            procs.append(subprocess.Popen(
                [prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
                 f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{prom_port}"],
                cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True))

            def query(promql: str) -> list[dict[str, Any]]:
                answer = httpx.get(f"{prom}/api/v1/query", params={"query": promql},
                                   timeout=5).json()
                assert answer["status"] == "success", answer
                return list(answer["data"]["result"])

            # The scrape succeeds (the bearer token was accepted) …
            up = wait_for(lambda: query('up{job="herald"} == 1'), "a successful scrape", procs)
            assert up[0]["metric"]["instance"] == f"127.0.0.1:{port}"
            # … and Prometheus answers for what Herald published.
            published = wait_for(lambda: query(
                'sum(herald_publish_outcomes_total{outcome="published"}) >= 2'),
                "the published posts' series", procs)
            assert float(published[0]["value"][1]) == len(ids)
            lateness = query('sum(herald_publish_lateness_seconds_count{platform="facebook"})')
            assert float(lateness[0]["value"][1]) == len(ids)
            assert float(query("herald_queue_due")[0]["value"][1]) == 0
        finally:
            for proc in reversed(procs):
                stop(proc)


def _publish_two_posts(base: str, token: str, procs: list[subprocess.Popen[str]]) -> list[str]:
    with httpx.Client(base_url=f"{base}/api/v1", timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as api:
        account = api.post("/accounts", json={"platform": "facebook", "name": "Sandbox page",
                                              "sandbox": True})
        assert account.status_code == 201, account.text
        ids = []
        for caption in ("first", "second"):
            created = api.post("/posts", json={
                "account_id": account.json()["id"], "post_type": "text", "caption": caption,
                "run_at": "now"})
            assert created.status_code == 201, created.text
            ids += [p["id"] for p in created.json()["items"]]
        wait_for(lambda: all(api.get(f"/posts/{i}").json()["status"] == "published"
                          for i in ids), "the posts", procs)
        return ids
