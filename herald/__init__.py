"""Herald: a self-hosted social media post scheduler."""

from __future__ import annotations

import sys

__version__ = "0.1.0"

# httpx's __init__ imports its command-line client (httpx._main: click, rich, pygments)
# whenever those happen to be installed, and typer brings rich. Herald never runs that
# client; marking the module absent makes httpx take its own fallback for a missing CLI
# and saves about 5.5 MB of every worker's resident memory (bench/idle.py measures it).
# The `httpx` console script runs in its own process, where this never executes.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
