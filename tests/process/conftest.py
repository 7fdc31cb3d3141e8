"""The reliability tests' stage (tests/process/harness.py) as fixtures."""

from __future__ import annotations

from tests.process.harness import server_database, stage

__all__ = ["server_database", "stage"]
