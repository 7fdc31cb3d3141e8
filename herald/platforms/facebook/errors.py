"""Facebook's error mapping: the Graph API's (graph/errors.py) under Facebook's name,
naming the permissions Page publishing needs. The Pages subcodes (13xxxxx, 14xxxxx) sit in
the Graph API's one subcode table with Instagram's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from herald.platforms.base import PublishError, TransientError
from herald.platforms.facebook import SPEC
from herald.platforms.graph.errors import QUOTA_WAIT, graph_error
from herald.platforms.http import Step, to_int

if TYPE_CHECKING:
    from herald.platforms.graph.session import Usage

#: ❓ Meta documents the limit of 30 reels a Page in 24 hours but not the error it answers
#: on /video_reels; code 9 ("limit reached", Instagram's 2207042 is a 9 too) is assumed,
#: and read as "not now": nothing was published, the reel is tried again in an hour.
REELS_LIMIT_CODE = 9


def facebook_error(error: Mapping[str, Any], *, step: Step, status: int = 400,
                   usage: Usage | None = None, retry_after: float | None = None) -> PublishError:
    """Map one Graph error envelope of a Page call to Herald's hierarchy."""
    if to_int(error.get("code")) == REELS_LIMIT_CODE and error.get("error_subcode") is None:
        return TransientError("Facebook says the Page has reached its limit of reels "
                              "published through the API (30 in 24 hours); nothing was "
                              "published, and Herald tries again in an hour (code 9).",
                              code="9", retry_after=max(retry_after or 0.0, QUOTA_WAIT))
    return graph_error(error, platform=SPEC.display_name, step=step, status=status,
                       usage=usage, retry_after=retry_after, permissions=SPEC.permissions)
