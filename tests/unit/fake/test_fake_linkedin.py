"""LinkedIn's REST API through the fake, over real HTTP."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

ORG = "urn:li:organization:1000001"
MEMBER = "urn:li:person:abc123"


def enc(urn):
    """URNs in paths are percent-encoded, as Rest.li 2.0 requires."""
    return quote(urn, safe="")


def input_error_code(response):
    assert response.status_code == 422, response.text
    return response.json()["errorDetails"]["inputErrors"][0]["code"]


class TestHeaders:
    def test_old_version_is_426(self, li):
        response = li.http.post("/rest/posts", json={}, headers={"LinkedIn-Version": "202411"})
        assert response.status_code == 426
        assert response.json() == {"status": 426, "code": "NONEXISTENT_VERSION",
                                   "message": "Requested version 20241101 is not active"}

    def test_active_versions_are_configurable(self, li, state):
        state.configure(li_active_versions=["202411"])
        assert li.http.get("/rest/posts", params={"q": "author", "author": ORG},
                           headers={"LinkedIn-Version": "202411"}).status_code == 200
        assert li.http.get("/rest/posts", params={"q": "author", "author": ORG}
                           ).status_code == 426

    def test_revision_suffix_is_accepted(self, li):
        response = li.http.get("/rest/posts", params={"q": "author", "author": ORG},
                               headers={"LinkedIn-Version": "202609.01"})
        assert response.status_code == 200

    def test_missing_version(self, li):
        li.http.headers.pop("LinkedIn-Version")
        response = li.post()
        assert response.status_code == 400 and response.json()["code"] == "VERSION_MISSING"

    def test_missing_protocol_header(self, li):
        li.http.headers.pop("X-Restli-Protocol-Version")
        assert li.post().status_code == 400

    def test_missing_token(self, li):
        li.http.headers.pop("Authorization")
        response = li.post()
        assert response.status_code == 401 and response.json()["serviceErrorCode"] == 65604

    def test_invalid_token(self, li):
        li.http.headers["Authorization"] = "Bearer wrong"
        response = li.post()
        assert response.status_code == 401
        assert response.json() == {"status": 401, "serviceErrorCode": 65600,
                                   "message": "Invalid access token"}

    def test_revoked_token(self, li, state):
        state.revoke_token("li-token")
        response = li.post()
        assert response.status_code == 401
        assert response.json()["serviceErrorCode"] == 65601
        assert response.json()["code"] == "REVOKED_ACCESS_TOKEN"

    def test_expired_token(self, li, state):
        state.expire_token("li-token")
        assert li.post().json()["serviceErrorCode"] == 65602


class TestPosts:
    def test_created_post_is_201_with_an_empty_body_and_a_restli_id(self, li, state):
        response = li.post(ORG, "Hello")
        assert response.status_code == 201 and response.content == b""
        urn = response.headers["x-restli-id"]
        assert re.fullmatch(r"urn:li:share:\d{19}", urn)
        [record] = state.published()
        assert (record.platform, record.account, record.kind) == ("linkedin", ORG, "text")
        assert record.external_id == urn

    def test_little_text_format_arrives_intact(self, li, state):
        commentary = r"Launch day \(v2\)! \#herald \@[Acme](urn:li:organization:1) \_x\_ \\"
        assert li.post(MEMBER, commentary).status_code == 201
        assert state.published()[0].caption == commentary

    def test_duplicate_names_the_original(self, li, state):
        urn = li.post(ORG, "Same words").headers["x-restli-id"]
        response = li.post(ORG, "Same words")
        assert input_error_code(response) == "DUPLICATE_POST"
        assert response.json()["message"].endswith(f"Content is a duplicate of {urn}")
        assert response.json()["errorDetails"]["inputErrors"][0]["description"] == (
            "Duplicate post is detected")
        assert len(state.published()) == 1
        # Another author may say the same thing.
        assert li.post(MEMBER, "Same words").status_code == 201

    def test_author_the_token_cannot_post_as_is_403(self, li):
        response = li.post("urn:li:organization:999")
        assert response.status_code == 403 and response.json()["code"] == "ACCESS_DENIED"

    def test_validation(self, li):
        assert input_error_code(li.post(ORG, "x", visibility="EVERYONE")) == "INVALID_VALUE"
        assert input_error_code(li.post(ORG, "x" * 3001)) == "FIELD_VALUE_TOO_LONG"
        assert input_error_code(li.post(ORG, "")) == "MISSING_REQUIRED_FIELD"
        bad_json = li.http.post("/rest/posts", content=b"{nope",
                                headers={"Content-Type": "application/json"})
        assert bad_json.status_code == 400

    def test_daily_limit_per_author_resets_at_midnight_utc(self, li, state):
        state.configure(li_daily_limit=2)
        now = state.now()
        state.advance(86400 - now % 86400 + 60)  # just after a midnight, so the day is long
        assert li.post(MEMBER, "one").status_code == 201
        assert li.post(MEMBER, "two").status_code == 201
        response = li.post(MEMBER, "three")
        assert response.status_code == 429
        assert response.json() == {
            "status": 429, "serviceErrorCode": 101,
            "message": "Resource level throttle MEMBER DAY limit for calls to this resource "
                       "is reached."}
        assert li.post(ORG, "three").status_code == 201
        state.advance(86400)
        assert li.post(MEMBER, "three").status_code == 201

    def test_finder_lists_organization_posts_newest_first(self, li):
        first = li.post(ORG, "first").headers["x-restli-id"]
        second = li.post(ORG, "second").headers["x-restli-id"]
        response = li.http.get("/rest/posts", params={
            "q": "author", "author": ORG, "count": 10, "sortBy": "LAST_MODIFIED"},
            headers={"X-RestLi-Method": "FINDER"})
        elements = response.json()["elements"]
        assert [e["id"] for e in elements] == [second, first]
        assert elements[0]["commentary"] == "second" and elements[0]["author"] == ORG
        assert li.http.get(f"/rest/posts/{enc(first)}").json()["commentary"] == "first"

    def test_urns_in_paths_must_be_encoded(self, li):
        urn = li.post(ORG, "x").headers["x-restli-id"]
        assert li.http.get(f"/rest/posts/{urn}").status_code == 400
        assert li.http.get(f"/rest/posts/{enc(urn)}").status_code == 200
        assert li.http.get(f"/rest/posts/{enc(urn + '0')}").status_code == 404

    def test_finder_refuses_members(self, li):
        li.post(MEMBER, "mine")
        response = li.http.get("/rest/posts", params={"q": "author", "author": MEMBER})
        assert response.status_code == 403


class TestImages:
    def test_image_post(self, li, state, server):
        image = li.upload_image(ORG)
        assert image.startswith("urn:li:image:")
        response = li.post(ORG, "pic", content={"media": {"id": image, "altText": "alt"}})
        assert response.status_code == 201
        [record] = state.published()
        assert record.kind == "image" and record.media_ids == (image,)
        assert record.media_urls[0].startswith(server.linkedin_url + "/dms-uploads/")
        # The fake serves the bytes back for the sandbox page.
        assert li.http.get(record.media_urls[0]).content[:2] == b"\xff\xd8"

    def test_status_after_upload(self, li):
        image = li.upload_image(ORG)
        assert li.http.get(f"/rest/images/{enc(image)}").json()["status"] == "AVAILABLE"

    def test_image_never_uploaded_is_refused(self, li):
        init = li.http.post("/rest/images", params={"action": "initializeUpload"},
                            json={"initializeUploadRequest": {"owner": ORG}}).json()
        image = init["value"]["image"]
        response = li.post(ORG, "pic", content={"media": {"id": image}})
        assert input_error_code(response) == "MEDIA_NOT_AVAILABLE"
        unknown = li.post(ORG, "pic2", content={"media": {"id": "urn:li:image:nope"}})
        assert input_error_code(unknown) == "INVALID_MEDIA"

    def test_image_of_another_owner_is_refused(self, li):
        image = li.upload_image(MEMBER)
        assert input_error_code(li.post(ORG, "x", content={"media": {"id": image}})) == (
            "INVALID_MEDIA")

    def test_initialize_for_a_foreign_owner_is_403(self, li):
        response = li.http.post("/rest/images", params={"action": "initializeUpload"},
                                json={"initializeUploadRequest": {"owner": "urn:li:person:x"}})
        assert response.status_code == 403

    @pytest.mark.parametrize(("count", "status"), [(1, 422), (2, 201), (20, 201), (21, 422)])
    def test_multi_image_needs_2_to_20(self, li, state, count, status):
        image = li.upload_image(ORG)
        images = [{"id": image, "altText": str(i)} for i in range(count)]
        response = li.post(ORG, f"{count} pics", content={"multiImage": {"images": images}})
        assert response.status_code == status
        if status == 201:
            assert state.published()[0].kind == "multi_image"


def test_article_post(li, state):
    thumbnail = li.upload_image(ORG)
    article = {"source": "https://example.com/post", "title": "T", "description": "D",
               "thumbnail": thumbnail}
    assert li.post(ORG, "read", content={"article": article}).status_code == 201
    record = state.published()[0]
    assert record.kind == "article" and record.media_urls == ("https://example.com/post",)
    assert input_error_code(li.post(ORG, "bad", content={"article": {"source": "ftp://x"}})) == (
        "INVALID_VALUE")


class TestVideos:
    SIZE = 4 * 1024 * 1024 + 10  # two parts

    def init(self, li, size=SIZE):
        response = li.http.post("/rest/videos", params={"action": "initializeUpload"}, json={
            "initializeUploadRequest": {"owner": ORG, "fileSizeBytes": size,
                                        "uploadCaptions": False, "uploadThumbnail": False}})
        assert response.status_code == 200, response.text
        return response.json()["value"]

    def upload(self, li, value):
        etags = []
        for part in value["uploadInstructions"]:
            length = part["lastByte"] - part["firstByte"] + 1
            response = li.http.put(part["uploadUrl"], content=b"v" * length)
            assert response.status_code == 200
            etags.append(response.headers["etag"])
        return etags

    def finalize(self, li, video, etags):
        return li.http.post("/rest/videos", params={"action": "finalizeUpload"}, json={
            "finalizeUploadRequest": {"video": video, "uploadToken": "",
                                      "uploadedPartIds": etags}})

    def test_upload_in_4_mib_parts_then_finalize_and_poll(self, li, state):
        state.configure(li_video_polls=1)
        value = self.init(li)
        parts = value["uploadInstructions"]
        assert [(p["firstByte"], p["lastByte"]) for p in parts] == [
            (0, 4 * 1024 * 1024 - 1), (4 * 1024 * 1024, self.SIZE - 1)]
        video = value["video"]
        assert li.http.get(f"/rest/videos/{enc(video)}").json()["status"] == "WAITING_UPLOAD"
        etags = self.upload(li, value)
        assert self.finalize(li, video, etags).status_code == 200
        assert li.post(ORG, "too early", content={"media": {"id": video}}).status_code == 422
        assert li.http.get(f"/rest/videos/{enc(video)}").json()["status"] == "PROCESSING"
        assert li.http.get(f"/rest/videos/{enc(video)}").json()["status"] == "AVAILABLE"
        assert li.post(ORG, "clip", content={"media": {"id": video, "title": "T"}}
                       ).status_code == 201
        assert state.published()[-1].kind == "video"

    def test_finalize_checks_the_etags(self, li):
        value = self.init(li)
        etags = self.upload(li, value)
        assert self.finalize(li, value["video"], list(reversed(etags))).status_code == 400
        assert self.finalize(li, value["video"], etags[:1]).status_code == 400

    def test_finalize_before_all_parts_is_refused(self, li):
        value = self.init(li)
        assert self.finalize(li, value["video"], []).status_code == 400

    def test_part_of_the_wrong_size_is_refused(self, li):
        value = self.init(li, size=100)
        assert li.http.put(value["uploadInstructions"][0]["uploadUrl"], content=b"x"
                           ).status_code == 400

    def test_processing_failure(self, li, state):
        state.configure(li_video_polls=0)
        state.add_fault("processing_error", platform="linkedin", endpoint="upload", count=1)
        value = self.init(li, size=10)
        self.finalize(li, value["video"], self.upload(li, value))
        body = li.http.get(f"/rest/videos/{enc(value['video'])}").json()
        assert body["status"] == "PROCESSING_FAILED" and body["processingFailureReason"]


def test_document_post(li, state):
    init = li.http.post("/rest/documents", params={"action": "initializeUpload"},
                        json={"initializeUploadRequest": {"owner": ORG}}).json()["value"]
    assert li.http.put(init["uploadUrl"], content=b"%PDF-1.4 ...").status_code == 201
    document = init["document"]
    response = li.post(ORG, "doc", content={"media": {"id": document, "title": "Deck"}})
    assert response.status_code == 201 and state.published()[0].kind == "document"
