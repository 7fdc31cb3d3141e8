"""What every use case is given: who asks, the time, the settings, the checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from herald.crypto import TokenCipher
from herald.models import utcnow
from herald.sandbox import Sandbox

if TYPE_CHECKING:
    from herald.media import InspectedMedia


class PostChecks(Protocol):
    """Scheduling-time checks, in two halves so that no fetch runs inside a transaction."""

    def inspect(self, media: Sequence[dict[str, Any]]) -> InspectedMedia:
        """Probe the media (may fetch it): call before the transaction begins."""

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
