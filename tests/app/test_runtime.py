"""The composition root: a Herald is built whole, then cannot be changed."""

from __future__ import annotations

import dataclasses

import pytest

from herald.runtime import Herald
from tests.helpers import RecordingPublisher


def test_a_herald_is_frozen(herald: Herald) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        herald.sandbox = None  # type: ignore[misc]


async def test_build_with_platforms_makes_every_part_at_once(herald: Herald) -> None:
    built = Herald.build(herald.settings, db=herald.db, platforms=True, quick=True)
    try:
        assert built.http is not None and built.refresher is not None
        assert built.sandbox is None and built.checks is not None
        for platform in ("facebook", "instagram", "linkedin"):
            assert not isinstance(built.registry.get(platform), RecordingPublisher)
    finally:
        await built.aclose()
