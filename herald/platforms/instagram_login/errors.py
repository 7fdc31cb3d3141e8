"""Instagram Login's error mapping: graph.instagram.com answers the Graph API's error
envelope with the same codes as graph.facebook.com (docs/platforms/instagram.md), so this is
the Graph mapping under Instagram's name and Instagram Login's permissions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from herald.platforms.base import PermanentError
from herald.platforms.graph.errors import graph_error
from herald.platforms.http import Step
from herald.platforms.instagram_login import SPEC

if TYPE_CHECKING:
    from herald.platforms.base import PublishError
    from herald.platforms.graph.session import Usage


#: The Graph mapping's advice for a personal account assumes Facebook Login's Page.
_PAGE_ADVICE = " linked to the Facebook Page"


def login_error(error: Mapping[str, Any], *, step: Step, status: int = 400,
                usage: Usage | None = None, retry_after: float | None = None) -> PublishError:
    """Map one Graph error envelope of a graph.instagram.com call to Herald's hierarchy."""
    mapped = graph_error(error, platform="Instagram", step=step, status=status, usage=usage,
                         retry_after=retry_after, permissions=SPEC.permissions)
    if type(mapped) is PermanentError and _PAGE_ADVICE in mapped.message:
        # An Instagram Login account has no Page: switching its type is the whole advice.
        return PermanentError(mapped.message.replace(_PAGE_ADVICE, ""), code=mapped.code)
    return mapped
