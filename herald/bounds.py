"""What every engine can store: request values checked before any database sees them.

PostgreSQL refuses NUL (U+0000) in text and jsonb, and JSON has no NaN or Infinity
(Python's json module reads and writes them; PostgreSQL and the API's clients do not).
Post `options` are free-form JSON kept with the post: they are bounded in depth and size,
because a value nested hundreds deep is stored fine and then breaks every read of it.
"""

from __future__ import annotations

import json
import math
from typing import Any

#: Levels of objects and lists `options` may nest (platform options use one or two).
OPTIONS_MAX_DEPTH = 16
#: The largest `options`, in bytes of compact JSON.
OPTIONS_MAX_BYTES = 32 * 1024


def storable_problem(value: Any, where: str) -> str | None:
    """Why `value` (decoded JSON, or a form's strings) cannot be stored, or None."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str) and "\x00" in item:
            return f"{path} contains a NUL character (\\u0000), which Herald cannot store"
        if isinstance(item, float) and not math.isfinite(item):
            return f"{path} is {item!r}; JSON numbers must be finite (no NaN or Infinity)"
        if isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and "\x00" in key:
                    return (f"a key in {path} contains a NUL character (\\u0000), which "
                            "Herald cannot store")
                stack.append((child, f"{path}.{key}" if path else str(key)))
        elif isinstance(item, list | tuple):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(item))
    return None


def options_problem(options: dict[str, Any]) -> str | None:
    """Why a post's `options` are refused (too deep or too large), or None."""
    depth = _depth(options)
    if depth > OPTIONS_MAX_DEPTH:
        return (f"options nest {depth} levels deep; Herald accepts at most "
                f"{OPTIONS_MAX_DEPTH} levels of objects and lists")
    size = len(json.dumps(options, separators=(",", ":"), ensure_ascii=False).encode())
    if size > OPTIONS_MAX_BYTES:
        return (f"options are {size:,} bytes as JSON; Herald accepts at most "
                f"{OPTIONS_MAX_BYTES:,}")
    return None


def _depth(value: Any) -> int:
    # Iterative: a recursive walk is what fails on the values this check refuses.
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = (item.values() if isinstance(item, dict)
                    else item if isinstance(item, list) else None)
        if children is not None:
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in children)
    return deepest
