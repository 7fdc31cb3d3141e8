"""A CSV (header row) or a JSON array of create bodies, read into one create body per row.

Whole-file faults (not UTF-8, a missing or unknown column, too many rows) refuse the file;
a row's faults are that row's problems, reported with its number and account.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from herald.errors import Invalid
from herald.schemas import PostCreate, parse_run_at

REQUIRED_COLUMNS = ("account", "run_at")
COLUMNS = (*REQUIRED_COLUMNS, "timezone", "caption", "post_type", "media", "first_comment")
#: `run_at` of a row to be put in the account's next free slot (the create's "next_slot").
QUEUE_WORDS = frozenset({"queue", "next_slot"})
_VIDEO = (".mp4", ".mov", ".m4v", ".webm")


@dataclass(frozen=True)
class Accounts:
    """The company's accounts as a row may name them: by id or by the name Herald shows."""

    by_id: Mapping[str, Any]
    default_zone: str = "UTC"
    #: Where `default_zone` comes from, for the row's note.
    default_source: str = "the company's time zone"
    by_name: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for account in self.by_id.values():
            self.by_name.setdefault(account.name.strip().casefold(), []).append(account.id)

    def find(self, given: str) -> tuple[str | None, str | None]:
        """(account id, None), or (None, why not)."""
        if given in self.by_id:
            return given, None
        ids = self.by_name.get(given.strip().casefold(), [])
        if len(ids) == 1:
            return ids[0], None
        if not given.strip():
            return None, "account is empty; give an account id or its name"
        if ids:
            return None, (f"{len(ids)} accounts are named {given!r}; use the account's id "
                          f"({', '.join(sorted(ids))})")
        return None, f"no account with the id or name {given!r} in this company"

    def zone(self, account_id: str) -> tuple[str, str]:
        """The time zone a local time of this account is read in, and where it came from."""
        # An account's time zone is its posting schedule's; without one, the company's.
        own = getattr(self.by_id[account_id], "timezone", None)
        if own:
            return own, "the account's time zone"
        return self.default_zone, self.default_source


@dataclass
class ImportRow:
    """One row: its create body (checked by PostCreate) or what is wrong with it."""

    row: int
    account: str
    line: int | None = None
    data: PostCreate | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_import(raw: bytes, content_type: str, accounts: Accounts, *,
                max_rows: int) -> list[ImportRow]:
    """Every row of the file, each with its create body or its problems."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("The file is not UTF-8 text; save the spreadsheet as CSV UTF-8.") from None
    is_json = "json" in content_type or text.lstrip().startswith("[")
    rows = _json_rows(text, accounts) if is_json else _csv_rows(text, accounts)
    if not rows:
        raise Invalid("The file has no rows to import.")
    if len(rows) > max_rows:
        raise Invalid(f"The file has {len(rows)} rows; Herald imports at most {max_rows} at "
                      "once (HERALD_MAX_IMPORT_ROWS). Split it into smaller files.")
    return rows


def _json_rows(text: str, accounts: Accounts) -> list[ImportRow]:
    try:
        items = json.loads(text)
    except ValueError as exc:
        raise Invalid(f"The body is not valid JSON: {exc}") from None
    if not isinstance(items, list):
        raise Invalid("A JSON import is an array of the bodies POST /api/v1/posts takes.")
    rows = []
    for number, item in enumerate(items, start=1):
        label = str(item.get("account_id") or item.get("account_ids") or "") if isinstance(
            item, dict) else ""
        row = ImportRow(number, label)
        if not isinstance(item, dict):
            row.problems.append("each element must be an object (a create body)")
        else:
            _validate(row, item)
        rows.append(row)
    return rows


def _csv_rows(text: str, accounts: Accounts) -> list[ImportRow]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in next(reader, [])]
    _check_header(header)
    rows: list[ImportRow] = []
    line = reader.line_num + 1
    for values in reader:
        if not any(v.strip() for v in values):
            line = reader.line_num + 1
            continue  # spreadsheets save blank lines at the end
        cells = dict(zip(header, values, strict=False))
        row = ImportRow(len(rows) + 1, cells.get("account", "").strip(), line=line)
        if len(values) > len(header):
            row.problems.append(f"{len(values)} values for {len(header)} columns")
        else:
            body = _csv_body(row, cells, accounts)
            if not row.problems:
                _validate(row, body)
        rows.append(row)
        line = reader.line_num + 1
    return rows


def _check_header(header: list[str]) -> None:
    if not any(header):
        raise Invalid("The CSV has no header row; its first line names the columns: "
                      + ", ".join(COLUMNS) + ".")
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise Invalid(f"Unknown column {unknown[0]!r}; the columns are: "
                      + ", ".join(COLUMNS) + ".")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise Invalid(f"The column {repeated[0]!r} appears twice.")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise Invalid(f"The CSV has no {missing[0]!r} column; it needs "
                      + " and ".join(REQUIRED_COLUMNS) + ".")


def _csv_body(row: ImportRow, cells: dict[str, str], accounts: Accounts) -> dict[str, Any]:
    account_id, problem = accounts.find(cells.get("account", ""))
    body: dict[str, Any] = {"account_id": account_id, "caption": cells.get("caption", "")}
    if problem:
        row.problems.append(problem)
    if cells.get("post_type", "").strip():
        body["post_type"] = cells["post_type"].strip()
    urls = cells.get("media", "").split()
    body["media"] = [{"url": url, "type": _media_type(url)} for url in urls]
    comment = cells.get("first_comment", "").strip()
    if comment:
        body["first_comment"] = comment
    if account_id is not None:
        body["run_at"] = _run_at(row, cells, accounts, account_id)
    return body


def _run_at(row: ImportRow, cells: dict[str, str], accounts: Accounts,
            account_id: str) -> str | None:
    value = cells.get("run_at", "").strip()
    if value.lower() in QUEUE_WORDS:
        return "next_slot"
    if not value:
        row.problems.append("run_at is empty; write a time such as 2026-12-01T09:00:00+01:00, "
                            "a local time such as 2026-12-01 09:00, or queue")
        return None
    try:
        parse_run_at(value)
        return value
    except ValueError as exc:
        if "has no timezone" not in str(exc):
            row.problems.append(str(exc))
            return None
    return _local(row, value, cells.get("timezone", "").strip(), accounts, account_id)


def _local(row: ImportRow, value: str, zone_name: str, accounts: Accounts,
           account_id: str) -> str | None:
    """A wall-clock time, read in the row's `timezone`, else the account's (or company's)."""
    source = "the row's timezone"
    if not zone_name:
        zone_name, source = accounts.zone(account_id)
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        row.problems.append(f"unknown time zone {zone_name!r}; use an IANA name such as "
                            "'Europe/Berlin'")
        return None
    local = datetime.fromisoformat(value.replace(" ", "T", 1))
    if source != "the row's timezone":
        row.notes.append(f"run_at {value!r} read in {zone_name} ({source})")
    return local.replace(tzinfo=zone).isoformat()


def _media_type(url: str) -> str:
    path = url.split("?", 1)[0].lower()
    if path.endswith(_VIDEO):
        return "video"
    return "document" if path.endswith(".pdf") else "image"


def _validate(row: ImportRow, body: dict[str, Any]) -> None:
    try:
        row.data = PostCreate.model_validate(body)
    except ValidationError as exc:
        row.problems += [_describe(e) for e in exc.errors()]


def _describe(err: Any) -> str:
    where = ".".join(str(p) for p in err.get("loc", ()))
    msg = str(err.get("msg", "")).removeprefix("Value error, ")
    if err.get("type") == "extra_forbidden":
        return f"unknown field {where!r}"
    if err.get("type") == "missing":
        return f"{where} is required"
    return f"{where}: {msg}".replace("Input should be", "must be") if where else msg
