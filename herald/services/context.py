"""What every use case is given: who asks, the time, the settings, the checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from herald.crypto import TokenCipher
from herald.errors import Forbidden
from herald.models import utcnow
from herald.permissions import Permission, Role, allows, require
from herald.sandbox import Sandbox

if TYPE_CHECKING:
    from herald.media import InspectedMedia


class PostChecks(Protocol):
    """Scheduling-time checks, in two halves so that no fetch runs inside a transaction."""

    def inspect(self, media: Sequence[dict[str, Any]], *,
                company_id: str | None = None) -> InspectedMedia:
        """Probe the media (may fetch it, in one of the company's download slots): call
        before the transaction begins."""

    def check(self, account: Any, payload: dict[str, Any],
              inspected: InspectedMedia) -> list[str]:
        """The platform's rules for the post, from what `inspect` found (no I/O)."""


@dataclass
class Context:
    """What a use case needs besides the session: who asks, the time, the settings."""

    company_id: str
    cipher: TokenCipher
    max_attempts: int = 3
    now: Callable[[], datetime] = utcnow
    actor: str | None = None
    checks: PostChecks | None = None
    sandbox: Sandbox | None = None
    #: Accounts' own servers may be http and private (HERALD_ALLOW_PRIVATE_SERVER_URLS).
    allow_private_servers: bool = False
    #: Asks the platform whether an account's credentials work (platform, server URL,
    #: external id, token), raising a PublishError if not; None: nobody is asked (tests
    #: without platform clients).
    verify_account: Callable[[str, str, str, str], None] | None = None
    #: How far ahead a recurring series' occurrences become posts.
    series_window_days: int = 35
    #: The caller's role in the company; the CLI and internal callers act as the owner.
    role: Role = Role.OWNER
    #: The accounts the caller may use, when their membership is limited to some.
    account_ids: frozenset[str] | None = None

    def require(self, permission: Permission) -> None:
        """Forbidden (a 403 naming the permission) unless the caller's role has it."""
        require(self.role, permission)

    def may(self, permission: Permission) -> bool:
        return allows(self.role, permission)

    def require_account(self, account_id: str) -> None:
        """Forbidden unless the caller may use this account (a per-account membership)."""
        if self.account_ids is not None and account_id not in self.account_ids:
            raise Forbidden(f"This needs access to the account {account_id!r}, which this "
                            "membership does not include.", permission="account_access")
