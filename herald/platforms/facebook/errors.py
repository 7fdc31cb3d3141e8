"""Facebook's error mapping: the Graph API's (graph/errors.py) under Facebook's name,
naming the permissions Page publishing needs. The Pages subcodes (13xxxxx, 14xxxxx) sit in
the Graph API's one subcode table with Instagram's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from herald.platforms.facebook import SPEC
from herald.platforms.graph.errors import graph_error
from herald.platforms.http import Step

if TYPE_CHECKING:
    from herald.platforms.base import PublishError
    from herald.platforms.graph.session import Usage


def facebook_error(error: Mapping[str, Any], *, step: Step, status: int = 400,
                   usage: Usage | None = None, retry_after: float | None = None) -> PublishError:
    """Map one Graph error envelope of a Page call to Herald's hierarchy."""
    return graph_error(error, platform=SPEC.display_name, step=step, status=status,
                       usage=usage, retry_after=retry_after, permissions=SPEC.permissions)
