"""The Graph API toolkit Facebook Pages and Instagram share.

It names no platform: each client passes its own display name. HTTP helpers that every
platform uses (transport failures, downloads, JSON readers) live in herald.platforms.http.
"""

from __future__ import annotations

from herald.platforms.graph.errors import (
    SUBCODES,
    ContainerNotReady,
    GraphErrors,
    NeedsNewContainer,
    graph_error,
)
from herald.platforms.graph.session import (
    GraphSession,
    Usage,
    attach_usage,
    recent,
)

# The worker reads post times with this name from here (herald.publishing).
from herald.platforms.http import parse_time

__all__ = [
    "SUBCODES",
    "ContainerNotReady",
    "GraphErrors",
    "GraphSession",
    "NeedsNewContainer",
    "Usage",
    "attach_usage",
    "graph_error",
    "parse_time",
    "recent",
]
