"""The configured platform API versions and their sunsets, in one table per API (issue 17,
#6): warned about within 60 days, at start and by `herald doctor`."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from herald.config import Settings
from herald.platforms import versions
from herald.platforms.graph import versions as graph
from herald.platforms.linkedin import versions as linkedin

TODAY = date(2026, 12, 3)


def _settings(**values: str) -> Settings:
    return Settings(database_url="sqlite:///x.db", **values)


def test_the_defaults_are_far_from_their_sunsets():
    configured = versions.configured(_settings())
    assert [v.setting for v in configured] == ["HERALD_GRAPH_API_VERSION",
                                               "HERALD_LINKEDIN_VERSION"]  # Graph once
    assert all(v.days_left(TODAY) > versions.WARN_DAYS for v in configured)
    assert versions.sunset_problems(_settings(), TODAY) == []


def test_linkedin_versions_last_a_year():
    assert linkedin.sunset("202609") == date(2027, 8, 31)
    assert linkedin.sunset("202601") == date(2026, 12, 31)
    assert linkedin.sunset("202612") == date(2027, 11, 30)
    assert linkedin.sunset("2026-09") is None and linkedin.sunset("202613") is None


@pytest.mark.parametrize(("values", "said"), [
    ({"linkedin_version": "202601"},  # what Postiz sends: 28 days left
     "HERALD_LINKEDIN_VERSION=202601: LinkedIn's API retires it on 2026-12-31, in 28 days"),
    ({"graph_api_version": "v20.0"},
     "HERALD_GRAPH_API_VERSION=v20.0: the Graph API retired it on 2026-09-24; every call "
     "fails; set v26.0"),
    ({"linkedin_version": "202511"}, "retired it on 2026-10-31"),
    ({"graph_api_version": "v99.0"}, "does not know when the Graph API retires this version"),
])
def test_a_version_near_or_past_its_sunset_is_named(values, said):
    [problem] = versions.sunset_problems(_settings(**values), TODAY)
    assert said in problem


def test_sixty_days_is_the_line():
    sunset = graph.SUNSETS["v21.0"][0]
    settings = _settings(graph_api_version="v21.0")
    from datetime import timedelta

    assert versions.sunset_problems(settings, sunset - timedelta(days=61)) == []
    assert "in 60 days" in versions.sunset_problems(settings, sunset - timedelta(days=60))[0]


def test_the_warning_is_logged_once_at_start(caplog):
    settings = _settings(linkedin_version="202601")
    versions._warned.clear()
    with caplog.at_level(logging.WARNING, logger="herald.platforms.versions"):
        first = versions.warn_at_start(settings, TODAY)
        second = versions.warn_at_start(settings, TODAY)
    assert len(first) == 1 and second == []
    assert [r.getMessage() for r in caplog.records] == [f"API version: {first[0]}"]
