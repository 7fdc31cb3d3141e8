"""Instagram Login's error mapping: graph.instagram.com answers the Graph API's error
envelope with the same codes as graph.facebook.com (docs/platforms/instagram.md), so this is
the Graph mapping under Instagram's name and Instagram Login's permissions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from herald.platforms.graph.errors import graph_error
from herald.platforms.http import Step
from herald.platforms.instagram_login import SPEC

if TYPE_CHECKING:
    from herald.platforms.base import PublishError
    from herald.platforms.graph.session import Usage


def login_error(error: Mapping[str, Any], *, step: Step, status: int = 400,
                usage: Usage | None = None, retry_after: float | None = None) -> PublishError:
    """Map one Graph error envelope of a graph.instagram.com call to Herald's hierarchy."""
    return graph_error(error, platform="Instagram", step=step, status=status, usage=usage,
                       retry_after=retry_after, permissions=SPEC.permissions)
