"""deploy/grafana/herald.json: valid JSON, and every query names metrics Herald exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import generate_latest

from herald import metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "herald.json"
_NAME = re.compile(r"\b(herald_[a-z_]+)")


def _exported() -> set[str]:
    """Every series name Herald's metrics can have (a histogram's three included)."""
    text = generate_latest(metrics.HERALD).decode()
    names = set(metrics.QueueCollector.NAMES)
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE):
        names.add(name)
        if kind == "histogram":
            names.update(f"{name}_{part}" for part in ("bucket", "sum", "count"))
    return names


def test_every_panel_queries_metrics_herald_exports() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] == "Herald" and dashboard["uid"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)) >= 8
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    exported = _exported()
    for expr in exprs:
        named = set(_NAME.findall(expr))
        assert named and named <= exported, (expr, named - exported)
    queried = {name for expr in exprs for name in _NAME.findall(expr)}
    assert {"herald_publish_outcomes_total", "herald_publish_lateness_seconds_bucket",
            "herald_queue_due", "herald_lease_rescues_total"} <= queried
