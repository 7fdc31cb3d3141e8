"""Logging without secrets: every record of every logger is redacted as it is made.

Platform tokens, app secrets and OAuth codes pass through URLs, form bodies, headers and
exception texts, and libraries log those (httpx logs each request's URL at INFO, uvicorn's
access log each path with its query string, a traceback carries an exception's message).
Herald keeps them out of its own URLs and messages where it can; this is the net under
that, for every library: a log record factory that redacts a record's message, arguments,
traceback and stack text before any handler sees it. A factory rather than a handler's
filter because handlers come and go (uvicorn replaces its own at start-up, a test or an
embedding adds more), while every record, whoever logs it, is made by the one factory.

Redacted: every value of a query string in a URL or path (`?code=…&state=…`), the value of
a key that carries a secret wherever it appears (`client_secret=…`, `"access_token": "…"`),
Authorization header values and `Bearer …`, and Herald API tokens (`hld_…`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from herald import log_context

REDACTED = "[redacted]"

#: Keys whose value is a secret wherever they appear: OAuth 2 and Graph API parameters,
#: Herald's own settings and forms.
SECRET_KEYS = (
    "access_token", "refresh_token", "id_token", "client_secret", "app_secret",
    "fb_exchange_token", "input_token", "appsecret_proof", "code", "token", "password",
    "secret_key", "api_token", "upload_token", "x-restli-token",
)

# `?k=v&k2=v2` after a URL or a path: every value, whatever its key (a platform may add a
# secret under a name this module has never heard of).
_QUERY = re.compile(r"\?(?=[^\s\"'<>#?]*=)[^\s\"'<>#]+")
_QUERY_VALUE = re.compile(r"=[^&;]*")
# key=value, key: value, "key": "value", 'key': 'value' (forms, JSON, dict reprs, headers).
_PAIR = re.compile(
    r"(?i)(?<![\w-])([\"']?)(" + "|".join(re.escape(k) for k in SECRET_KEYS) + r")\1"
    r"(\s*[:=]\s*)(?!\[redacted\])(?:([\"'])(.*?)\4|([^\s\"'&,;)}\]]+))")
_AUTHORIZATION = re.compile(
    r"(?i)((?<![\w-])[\"']?authorization[\"']?\s*[:=,](?!\s*(?-i:b)?[\"']?\[redacted\])"
    r"\s*(?-i:b)?[\"']?)[^\s\"'][^\"'\r\n]*")
# Only "Bearer": "Basic …" or "token …" is as often plain English.
_BEARER = re.compile(r"(?i)\b(bearer)\s+(?!\[redacted\])[\w\-.~+/]+=*")
#: A Graph error code (190) or Herald's (refresh/invalid_client) is no OAuth code, which
#: is random: mixed case and digits.
_ERROR_CODE = re.compile(r"\d{1,6}|[a-z][a-z_/-]*")
_API_TOKEN = re.compile(r"\bhld_[\w-]{8,}")


def redact(text: str, *known: str | None) -> str:
    """`text` with the `known` secrets and every secret this module recognises replaced by
    [redacted]."""
    for secret in known:
        text = text.replace(secret, REDACTED) if secret else text
    if not text:
        return text
    # Each pattern only where its cheap sign is: a record is redacted on every log call.
    lowered = text.lower()
    if "?" in text:
        text = _QUERY.sub(lambda m: _QUERY_VALUE.sub("=" + REDACTED, m.group(0)), text)
    if "authorization" in lowered:
        text = _AUTHORIZATION.sub(lambda m: m.group(1) + REDACTED, text)
    if "bearer" in lowered:
        text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    if any(key in lowered for key in SECRET_KEYS):
        text = _PAIR.sub(_pair, text)
    return _API_TOKEN.sub("hld_" + REDACTED, text) if "hld_" in text else text


def _pair(match: re.Match[str]) -> str:
    quote, key, separator, value_quote = match.group(1, 2, 3, 4)
    value = match.group(5) if value_quote else match.group(6)
    if key.lower() == "code" and _ERROR_CODE.fullmatch(value):
        return match.group(0)
    value_quote = value_quote or ""
    return f"{quote}{key}{quote}{separator}{value_quote}{REDACTED}{value_quote}"


class _Redacted:
    """An argument whose text needed redacting, for both %s and %r."""

    def __init__(self, text: str, representation: str) -> None:
        self.text, self.representation = text, representation

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.representation


def _argument(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value  # numbers keep working with %d and %.1f
    if isinstance(value, str):
        return redact(value)
    text, representation = str(value), repr(value)
    clean_text, clean_repr = redact(text), redact(representation)
    if clean_text == text and clean_repr == representation:
        return value
    return _Redacted(clean_text, clean_repr)


_TRACEBACKS = logging.Formatter()


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """The record with its message, arguments, traceback and stack redacted, in place."""
    _redact_message(record)
    if record.exc_info and record.exc_info[0] is not None:
        # Tracebacks carry exception messages (a URL, a form): formatted here, redacted,
        # and the exception dropped so no formatter can render it again unredacted.
        record.exc_text = redact(_TRACEBACKS.formatException(record.exc_info))
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def _redact_message(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: logging reports it itself
        return
    clean = redact(message)
    if clean == message:
        return  # the common case: one format and one pass
    if record.args:
        # Arguments one by one first: some formatters read them (uvicorn's access log
        # takes its five apart), and the message stays a format string.
        if isinstance(record.args, Mapping):
            record.args = {key: _argument(value) for key, value in record.args.items()}
        else:
            record.args = tuple(_argument(value) for value in record.args)
        if redact(record.getMessage()) == record.getMessage():
            return
    # A secret in the format string, or one only the parts together spell ("%s=%s").
    record.msg, record.args = clean, ()


def install() -> None:
    """Redact every log record of this process from now on (idempotent)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "herald_redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = redact_record(current(*args, **kwargs))
        setattr(record, log_context.ATTRIBUTE, log_context.current())
        return record

    factory.herald_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure(level: str, log_format: str = "text") -> None:
    """The `herald` command's logging: one line a record on stderr, secrets redacted; with
    `log_format` "json", a JSON object a line (herald.log_context)."""
    install()
    handler = logging.StreamHandler()
    handler.setFormatter(log_context.JsonFormatter() if log_format == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Python's warnings as log records: in JSON, every line on stderr is one object.
    logging.captureWarnings(log_format == "json")


def uvicorn_options(level: str, log_format: str) -> dict[str, Any]:
    """uvicorn.run / uvicorn.Config's logging options for this format (its own by default)."""
    if log_format != "json":
        return {"log_level": level.lower()}
    return {"log_level": level.lower(), "log_config": log_context.uvicorn_log_config(level)}
