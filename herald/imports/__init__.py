"""Reading a bulk import (CSV or a JSON array) into create bodies, row by row. No I/O."""

from __future__ import annotations

from herald.imports.reading import (
    COLUMNS,
    REQUIRED_COLUMNS,
    Accounts,
    ImportRow,
    read_import,
)

__all__ = ["COLUMNS", "REQUIRED_COLUMNS", "Accounts", "ImportRow", "read_import"]
