"""The first_comment field over the REST API: create, read, edit, and its bad inputs."""

from __future__ import annotations

from tests.helpers import add_account

LATER = "2030-01-01T09:00:00Z"


def test_first_comment_is_created_read_and_edited(client, auth, herald, company):
    fb = add_account(herald, company[0], "facebook", "1001")
    made = client.post("/api/v1/posts", headers=auth, json={
        "account_id": fb, "caption": "Hi", "post_type": "text", "run_at": LATER,
        "first_comment": "Read more below"})
    assert made.status_code == 201, made.text
    [item] = made.json()["items"]
    assert item["first_comment"] == "Read more below"
    assert item["options"] == {"first_comment": "Read more below"}
    got = client.get(f"/api/v1/posts/{item['id']}", headers=auth).json()
    assert got["first_comment_state"] == {"text": "Read more below", "status": "pending",
                                          "comment_id": None, "error": None}
    edited = client.patch(f"/api/v1/posts/{item['id']}", headers=auth,
                          json={"first_comment": "Changed"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["first_comment"] == "Changed"
    removed = client.patch(f"/api/v1/posts/{item['id']}", headers=auth,
                           json={"first_comment": ""})
    assert removed.json()["first_comment"] is None
    assert client.get(f"/api/v1/posts/{item['id']}",
                      headers=auth).json()["first_comment_state"] is None


def test_options_first_comment_is_still_accepted(client, auth, herald, company):
    fb = add_account(herald, company[0], "facebook", "1001")
    made = client.post("/api/v1/posts", headers=auth, json={
        "account_id": fb, "caption": "Hi", "post_type": "text", "run_at": LATER,
        "options": {"first_comment": "Old way"}})
    assert made.status_code == 201, made.text
    assert made.json()["items"][0]["first_comment"] == "Old way"


def test_first_comments_that_cannot_go_are_refused_when_scheduled(client, auth, herald,
                                                                  company):
    member = add_account(herald, company[0], "linkedin", "urn:li:person:abc")
    ig = add_account(herald, company[0], "instagram", "17841")
    fb = add_account(herald, company[0], "facebook", "1001")
    cases = [
        ({"account_id": member, "post_type": "text", "caption": "x", "first_comment": "c"},
         "LinkedIn first comments are posted as an organization; this account is a member; "
         "leave out first_comment."),
        ({"account_id": ig, "post_type": "story", "first_comment": "c",
          "media": [{"url": "https://example.com/a.jpg", "type": "image"}]},
         "Instagram stories take no comments; leave out first_comment."),
        ({"account_id": fb, "post_type": "text", "caption": "x", "first_comment": "c",
          "options": {"first_comment": "d"}},
         "first_comment and options.first_comment differ; give one"),
        ({"account_id": fb, "post_type": "text", "caption": "x",
          "options": {"first_comment": 5}}, "first_comment must be the comment's text."),
    ]
    for body, said in cases:
        answer = client.post("/api/v1/posts", headers=auth, json={**body, "run_at": LATER})
        assert answer.status_code == 422, answer.text
        assert said in answer.text
    retry = client.post("/api/v1/posts/nope/first-comment/retry", headers=auth)
    assert retry.status_code == 404
