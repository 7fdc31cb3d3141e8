"""Demo accounts for the sandbox and for `python -m herald.platforms.fake --demo`."""

from __future__ import annotations

from typing import Any

from herald.platforms.fake.models import FACEBOOK, INSTAGRAM, INSTAGRAM_LOGIN, LINKEDIN
from herald.platforms.fake.state import FakeState

DEMO_ACCOUNTS: tuple[dict[str, Any], ...] = (
    {"platform": FACEBOOK, "id": "100000000000001", "token": "sandbox-facebook-token",
     "name": "Sandbox Page"},
    {"platform": INSTAGRAM, "id": "17841400000000001", "token": "sandbox-instagram-token",
     "name": "Sandbox Instagram", "username": "herald_sandbox", "page_id": "100000000000001"},
    {"platform": INSTAGRAM_LOGIN, "id": "17841400000000002",
     "token": "sandbox-instagram-login-token", "name": "Sandbox Instagram (Instagram Login)",
     "username": "herald_sandbox_ig"},
    {"platform": LINKEDIN, "id": "urn:li:person:sandbox", "token": "sandbox-linkedin-token",
     "name": "Sandbox Member"},
    {"platform": LINKEDIN, "id": "urn:li:organization:1000001",
     "token": "sandbox-linkedin-token", "name": "Sandbox Organization"},
)


def add_demo_accounts(state: FakeState) -> list[dict[str, Any]]:
    """Register the demo accounts; returns them (with their tokens)."""
    for spec in DEMO_ACCOUNTS:
        options = {k: v for k, v in spec.items() if k not in ("platform", "id", "token")}
        state.add_account(spec["platform"], spec["id"], spec["token"], **options)
    return [dict(spec) for spec in DEMO_ACCOUNTS]
