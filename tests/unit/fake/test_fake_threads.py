"""The fake Threads API answers as Meta documents graph.threads.net (plain httpx here,
not Herald's client)."""

from __future__ import annotations

import pytest

USER, TOKEN, OTHER = "26000000077", "th-token", "26000000078"


@pytest.fixture
def th(server, state, make_client):
    state.add_account("threads", USER, TOKEN, name="Alice", username="alice")
    state.add_account("threads", OTHER, "other-token")
    return make_client(base_url=f"{server.url}/threads/v1.0",
                       headers={"Authorization": f"Bearer {TOKEN}"})


def make(th, **body):
    resp = th.post(f"/{USER}/threads", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


def test_a_text_post_walks_the_documented_statuses(th, state):
    container = make(th, media_type="TEXT", text="Hello")
    assert th.get(f"/{container}", params={"fields": "status,error_message"}).json() == {
        "id": container, "status": "FINISHED"}
    thread = th.post(f"/{USER}/threads_publish", json={"creation_id": container}).json()["id"]
    assert th.get(f"/{container}", params={"fields": "status"}).json()["status"] == "PUBLISHED"
    again = th.post(f"/{USER}/threads_publish", json={"creation_id": container})
    assert again.status_code == 400  # a container is published once
    listed = th.get(f"/{USER}/threads", params={"fields": "id,text,timestamp"}).json()["data"]
    assert [t["id"] for t in listed] == [thread] and listed[0]["text"] == "Hello"
    limit = th.get(f"/{USER}/threads_publishing_limit",
                   params={"fields": "quota_usage,config"}).json()
    assert limit == {"data": [{"quota_usage": 1, "config": {"quota_total": 250,
                                                            "quota_duration": 86400}}]}
    [record] = state.published(platform="threads")
    assert record.caption == "Hello" and record.external_id == thread


def test_refusals_come_in_the_graph_envelope(th, make_client, server):
    long = th.post(f"/{USER}/threads", json={"media_type": "TEXT", "text": "a" * 501})
    assert long.status_code == 400 and long.json()["error"]["code"] == 100
    one = th.post(f"/{USER}/threads", json={"media_type": "CAROUSEL", "children": "1"})
    assert one.json()["error"]["code"] == 100
    other = th.post(f"/{OTHER}/threads", json={"media_type": "TEXT", "text": "x"})
    assert other.status_code == 400 and other.json()["error"]["code"] == 10
    anon = make_client(base_url=f"{server.url}/threads/v1.0",
                       headers={"Authorization": "Bearer nope"})
    assert anon.get(f"/{USER}").json()["error"]["code"] == 190


def test_a_video_processes_and_a_processing_fault_fails_it(th, state):
    video = make(th, media_type="VIDEO", video_url="https://cdn.test/v.mp4")
    assert th.get(f"/{video}", params={"fields": "status"}).json()["status"] == "IN_PROGRESS"
    assert th.get(f"/{video}", params={"fields": "status"}).json()["status"] == "FINISHED"
    state.add_fault("processing_error", platform="threads", endpoint="container", count=1)
    broken = make(th, media_type="VIDEO", video_url="https://cdn.test/v.mp4")
    assert th.get(f"/{broken}", params={"fields": "status,error_message"}).json() == {
        "id": broken, "status": "ERROR", "error_message": "FAILED_PROCESSING_VIDEO"}


def test_the_quota_refuses_a_publish_over_it(th, state):
    state.add_account("threads", USER, TOKEN, quota_total=1)
    first = make(th, media_type="TEXT", text="one")
    second = make(th, media_type="TEXT", text="two")
    assert th.post(f"/{USER}/threads_publish", json={"creation_id": first}).status_code == 200
    over = th.post(f"/{USER}/threads_publish", json={"creation_id": second})
    assert over.status_code == 400
    assert (over.json()["error"]["code"], over.json()["error"]["error_subcode"]) == (9, 2207042)


def test_a_reply_is_listed_under_its_post_and_owned(th):
    thread = th.post(f"/{USER}/threads_publish", json={
        "creation_id": make(th, media_type="TEXT", text="post")}).json()["id"]
    reply = make(th, media_type="TEXT", text="first comment", reply_to_id=thread)
    reply_id = th.post(f"/{USER}/threads_publish", json={"creation_id": reply}).json()["id"]
    replies = th.get(f"/{thread}/replies",
                     params={"fields": "id,text,is_reply_owned_by_me"}).json()["data"]
    assert replies == [{"id": reply_id, "text": "first comment", "is_reply_owned_by_me": True}]
    # A reply is not a post of the profile's and is not counted against the limit.
    assert [t["id"] for t in th.get(f"/{USER}/threads").json()["data"]] == [thread]
