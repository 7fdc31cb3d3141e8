"""The calendar's month and week views, in the user's time zone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from herald.web import queries
from herald.web.calendar_grid import EN_DASH, PER_DAY, grid, place
from herald.web.localtime import zone
from tests.app.web.conftest import add_member, sign_in
from tests.helpers import add_account, add_posts


def test_a_month_grid_is_whole_weeks_from_monday():
    g = grid("month", date(2030, 9, 17), today=date(2030, 9, 17))
    assert (g.first, g.last) == (date(2030, 8, 26), date(2030, 10, 6))
    assert len(g.weeks) == 6 and all(len(w) == 7 for w in g.weeks)
    assert g.title == "September 2030"
    assert (g.previous, g.next) == (date(2030, 8, 1), date(2030, 10, 1))
    assert [d.date for w in g.weeks for d in w if d.is_today] == [date(2030, 9, 17)]
    week = grid("week", date(2030, 9, 17), today=date(2030, 1, 1))
    assert (week.first, week.last, week.title) == (date(2030, 9, 16), date(2030, 9, 22),
                                                   f"16{EN_DASH}22 September 2030")


@pytest.mark.all_engines
def test_posts_land_on_their_local_day_and_busy_days_say_how_many_more(herald, company):
    paris = zone("Europe/Paris")
    fb = add_account(herald, company[0], "facebook", "1001")
    late = datetime(2030, 9, 9, 22, 30, tzinfo=UTC)  # 00:30 on the 10th in Paris
    [late_id] = add_posts(herald, company[0], fb, run_at=late)
    busy = add_posts(herald, company[0], fb, 6, run_at=datetime(2030, 9, 12, 8, tzinfo=UTC))
    add_posts(herald, company[0], fb, run_at=datetime(2030, 11, 1, 8, tzinfo=UTC))  # not shown
    g = grid("month", date(2030, 9, 1), today=date(2030, 9, 1))
    bounds = g.bounds(paris)
    assert bounds[0] == datetime(2030, 8, 25, 22, tzinfo=UTC)  # midnight on the 26th in Paris
    with herald.db.session() as session:
        chips, totals = queries.calendar_chips(session, company[0], bounds, PER_DAY["month"])
    place(g, chips, totals, paris)
    days = {d.date: d for d in g.days}
    assert [(c.id, local.hour) for c, local in days[date(2030, 9, 10)].chips] == [(late_id, 0)]
    assert not days[date(2030, 9, 9)].chips
    twelfth = days[date(2030, 9, 12)]
    assert (len(twelfth.chips), twelfth.more, twelfth.total) == (4, 2, 6)
    assert {c.id for c, _ in twelfth.chips} <= set(busy)
    assert sum(d.total for d in g.days) == 7


def test_the_month_view_shows_chips_with_platform_account_status_and_time(
        web, herald, company):
    member = add_member(herald, company[0], timezone="Asia/Tokyo")
    browser = sign_in(web, member.email)
    fb = add_account(herald, company[0], "facebook", "1001")
    when = datetime(2031, 5, 20, 23, 15, tzinfo=UTC)  # 08:15 on 21 May in Tokyo
    [pid] = add_posts(herald, company[0], fb, run_at=when, caption="Hello Tokyo")
    page = browser.get("/calendar", params={"date": "2031-05-01"})
    assert page.status_code == 200
    assert "May 2031" in page.text
    day = re.search(r'data-date="2031-05-21".*?</section>', page.text, re.S).group(0)
    assert f'href="/posts/{pid}"' in day
    assert "08:15" in day and "facebook 1001" in day and "Scheduled" in day
    assert 'draggable="true"' in day  # pending posts can be dragged to another day
    assert 'title="Hello Tokyo"' in day
    assert '<span class="snippet">Hello Tokyo</span>' in day  # the month shows captions too
    week = browser.get("/calendar", params={"view": "week", "date": "2031-05-21"})
    assert f"19{EN_DASH}25 May 2031" in week.text and f'href="/posts/{pid}"' in week.text


def test_the_calendar_filters_by_account_and_survives_a_bad_date(signed_in, herald, company):
    fb = add_account(herald, company[0], "facebook", "1001")
    li = add_account(herald, company[0], "linkedin", "urn:li:person:1")
    when = datetime.now(UTC) + timedelta(days=1)
    add_posts(herald, company[0], fb, run_at=when)
    add_posts(herald, company[0], li, run_at=when)
    day = when.date().isoformat()
    both = signed_in.get("/calendar", params={"view": "week", "date": day}).text
    assert both.count('class="chip ') == 2
    only = signed_in.get("/calendar", params={"view": "week", "date": day, "account": li}).text
    assert only.count('class="chip ') == 1
    assert signed_in.get("/calendar", params={"date": "not-a-date"}).status_code == 200


def test_another_companys_posts_are_not_on_the_calendar(signed_in, herald):
    from herald import services

    with herald.db.session() as session:
        other, _ = services.create_company(session, name="Other")
    theirs = add_account(herald, other.id, "facebook", "999")
    when = datetime.now(UTC) + timedelta(days=1)
    add_posts(herald, other.id, theirs, run_at=when)
    page = signed_in.get("/calendar", params={"view": "week", "date": when.date().isoformat(),
                                              "account": theirs})
    assert 'class="chip ' not in page.text


def test_reels_and_stories_say_so_on_their_chips(signed_in, herald, company):
    fb = add_account(herald, company[0], "facebook", "1001")
    when = datetime(2031, 5, 20, 9, tzinfo=UTC)
    from tests.media_files import mp4_bytes

    url = herald.media_store.save(mp4_bytes(seconds=12, data_bytes=100_000),
                                  filename="r.mp4").url
    clip = [{"url": url, "type": "video"}]
    [reel] = add_posts(herald, company[0], fb, run_at=when, post_type="reel", media=clip)
    [story] = add_posts(herald, company[0], fb, run_at=when, post_type="story", caption="",
                        media=clip)
    [feed] = add_posts(herald, company[0], fb, run_at=when, caption="Plain")
    day = re.search(r'data-date="2031-05-20".*?</section>',
                    signed_in.get("/calendar", params={"date": "2031-05-01"}).text,
                    re.S).group(0)
    chips = {pid: re.search(rf'href="/posts/{pid}".*?</a>', day, re.S).group(0)
             for pid in (reel, story, feed)}
    assert '<span class="tag tag-reel">Reel</span>' in chips[reel]
    assert '<span class="tag tag-story">Story</span>' in chips[story]
    assert "tag-" not in chips[feed]
