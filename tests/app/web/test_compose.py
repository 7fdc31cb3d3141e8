"""Compose: the form, its checks (the API's own), uploads, and the posts it creates."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from herald.models import Post, PostSchedule, utcnow
from herald.web.localtime import zone
from tests.conftest import jpeg_bytes
from tests.helpers import add_account


def _posts(herald, company_id):
    with herald.db.session() as session:
        return list(session.scalars(select(Post).where(Post.company_id == company_id)
                                    .order_by(Post.platform)))


def _tomorrow(hour="09:30"):
    day = (utcnow() + timedelta(days=1)).astimezone(zone("UTC")).date()
    return day.isoformat(), hour


def test_the_form_lists_the_accounts_and_defaults_to_the_next_hour(signed_in, herald, company):
    add_account(herald, company[0], "instagram", "17841")
    page = signed_in.get("/compose")
    assert page.status_code == 200
    assert "instagram 17841" in page.text
    assert re.search(r'name="time" value="\d\d:00"', page.text)


def test_two_accounts_one_caption_make_two_posts_in_one_group(signed_in, herald, company,
                                                              image_url):
    ig = add_account(herald, company[0], "instagram", "17841")
    fb = add_account(herald, company[0], "facebook", "1001")
    day, at = _tomorrow()
    response = signed_in.post("/compose", data={
        "account_ids": [ig, fb], "post_type": "feed", "caption": "Hello\r\nworld",
        "media": [f"image {image_url}"], "date": day, "time": at, "action": "schedule"})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/calendar?view=week&date={day}"
    posts = _posts(herald, company[0])
    assert [p.platform for p in posts] == ["facebook", "instagram"]
    assert {p.group_id for p in posts} == {posts[0].group_id}
    assert {p.caption for p in posts} == {"Hello\nworld"}  # CRLF from the browser, LF stored
    assert posts[0].media == [{"url": image_url, "type": "image"}]
    assert posts[0].scheduled_at.isoformat().startswith(f"{day}T09:30")  # the user's zone: UTC
    assert posts[0].created_by == "web:ada@example.com"
    assert "Scheduled 2 posts for" in signed_in.get("/calendar").text


def test_times_are_read_in_the_users_time_zone(signed_in, herald, company, member):
    from herald.web import users

    with herald.db.session() as session:
        users.set_timezone(session, user_id=member.id, timezone="America/New_York")
    fb = add_account(herald, company[0], "facebook", "1001")
    response = signed_in.post("/compose", data={
        "account_ids": fb, "caption": "Hi", "date": "2030-07-01", "time": "09:00"})
    assert response.status_code == 303, response.text
    [post] = _posts(herald, company[0])
    assert post.scheduled_at.isoformat() == "2030-07-01T13:00:00+00:00"  # EDT is UTC-4


def test_a_caption_per_account_makes_one_post_each(signed_in, herald, company, image_url):
    ig = add_account(herald, company[0], "instagram", "17841")
    fb = add_account(herald, company[0], "facebook", "1001")
    li = add_account(herald, company[0], "linkedin", "urn:li:person:1")
    day, at = _tomorrow()
    response = signed_in.post("/compose", data={
        "account_ids": [ig, fb, li], "caption": "Shared text", f"caption_{li}": "For LinkedIn",
        f"caption_{fb}": "  ", "media": [f"image {image_url}"], "date": day, "time": at})
    assert response.status_code == 303, response.text
    posts = {p.platform: p for p in _posts(herald, company[0])}
    assert posts["linkedin"].caption == "For LinkedIn"
    assert posts["facebook"].caption == posts["instagram"].caption == "Shared text"
    # Accounts sharing a caption share a group; an account with its own gets its own.
    assert posts["facebook"].group_id == posts["instagram"].group_id
    assert posts["linkedin"].group_id != posts["facebook"].group_id


def test_post_now_and_drafts(signed_in, herald, company):
    fb = add_account(herald, company[0], "facebook", "1001")
    response = signed_in.post("/compose", data={"account_ids": fb, "caption": "Now!",
                                                "action": "now"})
    assert response.status_code == 303, response.text
    [post] = _posts(herald, company[0])
    assert response.headers["location"] == f"/posts/{post.id}"
    assert post.status == "pending"
    assert abs(post.scheduled_at - utcnow()) < timedelta(seconds=30)
    response = signed_in.post("/compose", data={"account_ids": fb, "caption": "Later",
                                                "action": "draft", "date": "", "time": ""})
    assert response.headers["location"] == "/posts?status=draft"
    draft = next(p for p in _posts(herald, company[0]) if p.caption == "Later")
    assert (draft.status, draft.scheduled_at) == ("draft", None)
    with herald.db.session() as session:
        assert session.get(PostSchedule, draft.id) is None  # drafts are not queued


def test_bad_input_is_explained_and_everything_typed_is_kept(signed_in, herald, company):
    ig = add_account(herald, company[0], "instagram", "17841")
    caption = "x" * 2_201 + " <b>&"
    response = signed_in.post("/compose", data={
        "account_ids": ig, "caption": caption, "link": "https://acme.example/a",
        "date": "2020-01-01", "time": "09:00", "post_type": "reel"})
    assert response.status_code == 422
    text = response.text
    assert "Nothing was scheduled." in text
    assert "has passed" in text  # the date in the past
    assert "Instagram captions are limited to 2,200 characters; this one has 2,206." in text
    assert "An Instagram reel needs exactly one video; this one has none." in text
    # What was typed comes back, escaped, ready to fix.
    assert "x" * 2_201 + " &lt;b&gt;&amp;</textarea>" in text
    assert 'value="https://acme.example/a"' in text
    assert 'value="2020-01-01"' in text
    assert re.search(r'value="reel"\s+selected', text)
    assert re.search(rf'value="{ig}"[^>]*checked', text)
    assert _posts(herald, company[0]) == []


def test_no_account_picked_and_nonsense_times(signed_in, herald, company):
    add_account(herald, company[0], "facebook", "1001")
    response = signed_in.post("/compose", data={"caption": "Hi", "date": "tomorrow",
                                                "time": "9am"})
    assert response.status_code == 422
    assert "Pick at least one account to post to." in response.text
    assert "&#39;tomorrow&#39; is not a date" in response.text
    assert 'value="tomorrow"' in response.text and 'value="9am"' in response.text


def test_a_time_the_clocks_skip_is_refused(signed_in, herald, company, member):
    from herald.web import users

    with herald.db.session() as session:
        users.set_timezone(session, user_id=member.id, timezone="Europe/Paris")
    fb = add_account(herald, company[0], "facebook", "1001")
    response = signed_in.post("/compose", data={"account_ids": fb, "caption": "Hi",
                                                "date": "2030-03-31", "time": "02:30"})
    assert response.status_code == 422
    assert "02:30 does not exist on 31 March 2030 in Europe/Paris" in response.text


def test_another_companys_account_cannot_be_posted_to(signed_in, herald):
    from herald import services

    with herald.db.session() as session:
        other, _ = services.create_company(session, name="Other")
    theirs = add_account(herald, other.id, "facebook", "999")
    response = signed_in.post("/compose", data={"account_ids": theirs, "caption": "Hi",
                                                "action": "now"})
    assert response.status_code == 422
    assert "not there any more" in response.text
    assert _posts(herald, other.id) == []


def test_the_check_endpoint_runs_the_apis_checks_per_account(signed_in, herald, company):
    ig = add_account(herald, company[0], "instagram", "17841")
    fb = add_account(herald, company[0], "facebook", "1001")
    tags = " ".join(f"#t{n}x" for n in range(31))
    response = signed_in.post("/compose/check", data={
        "account_ids": [ig, fb], "caption": tags, "post_type": "feed"},
        headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text  # a fragment for htmx to swap in
    assert "Instagram captions may have at most 30 hashtags; this one has 31." in response.text
    assert "An Instagram feed post needs exactly one image or video" in response.text
    assert response.text.count("will be refused") == 1
    assert "ready" in response.text  # Facebook takes it


def test_feed_story_problems_are_said_once(signed_in, herald, company):
    ig = add_account(herald, company[0], "instagram", "17841")
    response = signed_in.post("/compose/check", data={
        "account_ids": ig, "caption": "x" * 2_300, "post_type": "feed_story"})
    assert response.text.count("Instagram captions are limited") == 1


def test_uploading_a_file_answers_with_its_preview(signed_in, herald):
    response = signed_in.post("/compose/media", files={
        "file": ("photo.png", _png(), "image/png")})
    assert response.status_code == 201, response.text
    url = re.search(r'name="media" value="image (http://testserver/media/[^"]+)"',
                    response.text).group(1)
    assert url.endswith(".jpg")  # stills are stored as JPEG, as Instagram wants
    assert f'<img src="{url}"' in response.text
    bad = signed_in.post("/compose/media", files={"file": ("notes.txt", b"hello", "text/plain")})
    assert bad.status_code == 422
    assert "media-error" in bad.text and "notes.txt" in bad.text


def test_without_javascript_files_come_with_the_form(signed_in, herald, company):
    ig = add_account(herald, company[0], "instagram", "17841")
    response = signed_in.post(
        "/compose", data={"account_ids": ig, "caption": "Square", "action": "now"},
        files=[("files", ("square.jpg", jpeg_bytes(1080, 1080), "image/jpeg"))])
    assert response.status_code == 303, response.text
    [post] = _posts(herald, company[0])
    assert post.media[0]["url"].startswith("http://testserver/media/")
    # A refused post keeps the uploaded file, so it need not be chosen again.
    response = signed_in.post(
        "/compose", data={"account_ids": ig, "caption": "x" * 2_300, "action": "now"},
        files=[("files", ("square.jpg", jpeg_bytes(1080, 1080), "image/jpeg"))])
    assert response.status_code == 422
    assert 'name="media" value="image http://testserver/media/' in response.text


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (1080, 1080), (10, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def test_the_preview_endpoint_draws_the_post_as_each_platform_shows_it(signed_in, herald,
                                                                        company, image_url):
    ig = add_account(herald, company[0], "instagram", "17841")
    sky = add_account(herald, company[0], "bluesky", "acme.bsky.social")
    caption = "Big news #launch " + "x" * 200
    fragment = signed_in.post("/compose/preview", data={
        "account_ids": [ig, sky], "post_type": "feed", "caption": caption,
        "media": f"image {image_url}", "first_comment": "More at https://example.com",
        f"caption_{sky}": "Short for Bluesky #launch"}).text
    assert fragment.count('<article class="pv ') == 2
    assert 'class="pv pv-instagram"' in fragment and 'class="pv pv-bluesky"' in fragment
    assert '<details class="pv-fold"><summary>… more</summary>' in fragment  # Instagram folds
    assert "Short for Bluesky" in fragment  # the override is what Bluesky shows
    assert fragment.count('class="pv-hashtag">#launch') == 2
    assert 'pv-media pv-frame-4x5' in fragment and 'pv-media pv-frame-4x3' in fragment
    assert 'class="pv-link" href="https://example.com"' in fragment  # Bluesky's first comment
    # Both post the first comment: under the Instagram post too, as plain text there.
    assert "gets no first comment" not in fragment and fragment.count("More at") == 2


def test_the_compose_page_shows_previews_and_refreshes_them_as_one_types(signed_in, herald,
                                                                         company):
    fb = add_account(herald, company[0], "facebook", "1001")
    page = signed_in.get(f"/compose?account={fb}").text
    assert 'hx-post="/compose/preview"' in page and 'class="pv pv-facebook"' in page
    assert 'name="first_comment"' in page
    empty = signed_in.post("/compose/preview", data={"caption": "Hi"}).text
    assert "Pick one or more accounts" in empty


def test_a_first_comment_is_composed_with_the_post_and_refused_where_it_cannot_go(
        signed_in, herald, company):
    fb = add_account(herald, company[0], "facebook", "1001")
    member = add_account(herald, company[0], "linkedin", "urn:li:person:abc")
    page = signed_in.get("/compose")
    assert 'name="first_comment"' in page.text
    response = signed_in.post("/compose", data={"account_ids": fb, "caption": "Now!",
                                                "first_comment": "More in the comments",
                                                "action": "now"})
    assert response.status_code == 303, response.text
    [post] = _posts(herald, company[0])
    assert post.options["first_comment"] == "More in the comments"
    response = signed_in.post("/compose", data={"account_ids": member, "caption": "Hi",
                                                "first_comment": "Not as a member",
                                                "action": "now"})
    assert response.status_code == 422
    assert "LinkedIn first comments are posted as an organization" in response.text
    assert "Not as a member</textarea>" in response.text  # kept, ready to fix
    assert len(_posts(herald, company[0])) == 1


def test_the_picker_offers_reels_stories_and_polls_and_a_poll_is_composed(
        signed_in, herald, company):
    org = add_account(herald, company[0], "linkedin", "urn:li:organization:42")
    page = signed_in.get("/compose")
    for value, label in (("reel", "Reel"), ("story", "Story"), ("poll", "Poll (LinkedIn)")):
        assert f'<option value="{value}">{label}</option>' in page.text
    assert 'name="poll_question"' in page.text
    response = signed_in.post("/compose", data={
        "account_ids": org, "post_type": "poll", "caption": "Help us pick",
        "poll_question": "Which day?", "poll_options": "Monday\r\nFriday\r\n\r\n",
        "poll_duration": "THREE_DAYS", "action": "now"})
    assert response.status_code == 303, response.text
    [post] = _posts(herald, company[0])
    assert (post.post_type, post.options["poll"]) == ("poll", {
        "question": "Which day?", "options": ["Monday", "Friday"], "duration": "THREE_DAYS"})
    response = signed_in.post("/compose", data={
        "account_ids": org, "post_type": "poll", "poll_question": "Which day?",
        "poll_options": "Monday\r\n" + "x" * 31, "action": "now"})
    assert response.status_code == 422
    assert "LinkedIn poll options are limited to 30 characters" in response.text
    assert len(_posts(herald, company[0])) == 1


def test_a_mastodon_accounts_counter_and_preview_use_its_instances_length(signed_in, herald,
                                                                          company):
    from herald.platforms.fake import FakeServer
    from herald.platforms.mastodon import instance
    from herald.platforms.mastodon.fake import store as masto

    instance.forget()
    with FakeServer() as fake:
        masto.configure(fake.state, max_characters=1000)
        toot = add_account(herald, company[0], "mastodon", "alice",
                           server_url=f"{fake.url}/mastodon")
        instance.refresh_sync(f"{fake.url}/mastodon")  # as adding it through the API does
        page = signed_in.get(f"/compose?account={toot}").text
        assert "&#34;mastodon&#34;: {&#34;chars&#34;: 1000}" in page \
            or '"mastodon": {"chars": 1000}' in page, page[:200]
        fragment = signed_in.post("/compose/preview", data={
            "account_ids": [toot], "post_type": "text", "caption": "x" * 1200}).text
    instance.forget()
    assert 'class="pv pv-mastodon"' in fragment
    assert "Mastodon takes 1,000 characters" in fragment  # the instance's, not 500
    assert f"<del>{'x' * 200}</del>" in fragment  # the 200 past 1,000 are struck out
def test_instagram_options_are_composed_and_checked_like_the_apis(signed_in, herald,
                                                                  company, image_url):
    ig = add_account(herald, company[0], "instagram_login", "17841")
    page = signed_in.get("/compose").text
    assert 'name="collaborators"' in page and 'name="trial_reel"' in page
    response = signed_in.post("/compose", data={
        "account_ids": ig, "post_type": "feed", "caption": "Tagged",
        "media": f"image {image_url}", "collaborators": "jane.doe, @bob_b",
        "user_tags": "jane.doe 0.5 0.25\r\n", "location_id": "110843418940484",
        "action": "now"})
    assert response.status_code == 303, response.text
    [post] = _posts(herald, company[0])
    assert post.options == {"collaborators": ["jane.doe", "@bob_b"],
                            "user_tags": [{"username": "jane.doe", "x": 0.5, "y": 0.25}],
                            "location_id": "110843418940484"}
    response = signed_in.post("/compose", data={
        "account_ids": ig, "post_type": "feed", "caption": "Off the image",
        "media": f"image {image_url}", "user_tags": "jane.doe 1.5 0.2",
        "trial_reel": "MANUAL", "action": "now"})
    assert response.status_code == 422
    assert "x must be between 0 and 1" in response.text and "reels only" in response.text
    assert "jane.doe 1.5 0.2</textarea>" in response.text  # kept, ready to fix
    assert len(_posts(herald, company[0])) == 1
