"""The browser tests share the web tests' quick password hashing (their live Herald hashes
the members they sign in)."""

from __future__ import annotations

from tests.app.web.conftest import _quick_password_hashing  # noqa: F401 (an autouse fixture)
