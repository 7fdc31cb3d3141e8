"""Facebook's error mapping as a pure function: a Graph error in, a class and message out."""

from __future__ import annotations

from herald.platforms.base import NeedsReauthError, PermanentError, RateLimitedError
from herald.platforms.facebook.errors import facebook_error


def test_graph_errors_carry_facebooks_name_and_permissions():
    missing = facebook_error({"code": 200, "message": "no"}, step="commit")
    assert type(missing) is PermanentError
    assert missing.message == (
        "Facebook refused the call: the app lacks a permission (no). Reconnect the account "
        "and grant pages_manage_posts, pages_read_engagement and pages_show_list "
        "(publish_video for videos) (code 200).")
    named = facebook_error({"code": 200, "message": "Requires pages_manage_posts"},
                           step="commit")
    assert "grant pages_manage_posts (code 200)" in named.message
    role = facebook_error({"code": 190, "error_subcode": 492}, step="read")
    assert type(role) is NeedsReauthError
    assert role.message == ("Facebook no longer accepts the account's access token: the user no "
                            "longer has a role on the Page. Reconnect the account "
                            "(code 190/492).")


def test_pages_subcodes():
    fast = facebook_error({"code": 368, "error_subcode": 1390008}, step="commit")
    assert type(fast) is RateLimitedError
    assert fast.retry_after == 900
    assert fast.message == ("Facebook says the Page is posting too fast; the account waits "
                            "about 15 min (code 368/1390008).")
    ppa = facebook_error({"code": 200, "error_subcode": 1404078}, step="commit")
    assert type(ppa) is PermanentError
    assert "Page Publishing Authorization" in ppa.message
