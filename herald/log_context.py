"""What a log line is about (a request id; a post, account, worker and attempt), and JSON
lines that carry it: HERALD_LOG_FORMAT=json.

The context is a contextvar: set by the request layer for everything a request logs and by
the worker around each publish, it follows the code into the tasks and threads it starts
(asyncio copies it into a new task, anyio into the thread of a sync route), so a line
logged by httpx deep in a platform client still names the post it was for.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

_CONTEXT: ContextVar[Mapping[str, Any]] = ContextVar("herald_log_context",
                                                    default=MappingProxyType({}))

#: The record attribute the log record factory (herald.logs) stores the context in.
ATTRIBUTE = "herald_context"


def current() -> Mapping[str, Any]:
    return _CONTEXT.get()


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Every line logged inside carries `fields` (None values are left out)."""
    token = _CONTEXT.set({**_CONTEXT.get(),
                          **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the context, the traceback.

    The message and traceback are the redacted ones (herald.logs redacts each record as
    it is made, before any formatter sees it).
    """

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, ATTRIBUTE, None) or {})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, default=str, ensure_ascii=False)


def uvicorn_log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging as JSON lines (its access log on stdout, the rest on stderr), and
    the root logger's too, for the server processes `serve --workers` starts."""
    level = level.upper()

    def handler(stream: str) -> dict[str, str]:
        return {"class": "logging.StreamHandler", "formatter": "json",
                "stream": f"ext://sys.{stream}"}

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"stderr": handler("stderr"), "stdout": handler("stdout")},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["stdout"], "level": level, "propagate": False},
        },
        "root": {"handlers": ["stderr"], "level": level},
    }
