"""tests/unit runs without a database: pure logic, fakes and mock transports."""

from __future__ import annotations

import pytest


@pytest.fixture
def database_url() -> str:
    pytest.fail("tests/unit has no database: a test that needs one belongs in tests/app "
                "(or tests/db for the store's contract)")
