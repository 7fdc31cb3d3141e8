"""Page Reels and Stories on the fake Graph API: upload sessions, rupload, the stories list.

Copies the documented flows [FB-REELS][FB-STORIES]:
- `POST /{page}/video_reels` (or `/video_stories`) `upload_phase=start` answers
  `{"video_id", "upload_url"}`; the bytes go to the upload URL (rupload.facebook.com) with
  `Authorization: OAuth <token>` and a `file_url` header, answered `{"success": true}`;
- `upload_phase=finish` with the `video_id` publishes: a reel with `video_state=PUBLISHED`
  and its `description` answers `{"success": true}`, a video story
  `{"success": true, "post_id"}`;
- `POST /{page}/photo_stories` with the `photo_id` of an unpublished photo answers
  `{"success": true, "post_id"}`;
- `GET /{video-id}?fields=status` walks uploading, processing and publishing phases;
- `GET /{page}/video_reels` lists the Page's reels;
- `GET /{page}/stories` lists `{post_id, status, creation_time, media_type, media_id, url}`.

❓ Meta documents the 30-reels-per-24-hours limit on `/video_reels` but not the error it
answers; the fake refuses the 31st finish with code 9 and says so in words.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from herald.platforms.facebook.fake.models import FbPhoto, FbStory, FbVideo
from herald.platforms.fake.calls import CallInfo, as_text, pause, run_call
from herald.platforms.fake.faults import FaultRule
from herald.platforms.fake.models import DAY, FACEBOOK, PublishedRecord, utc
from herald.platforms.fake.state import FakeState
from herald.platforms.graph import fake_errors as errors
from herald.platforms.graph.fake import (
    GraphCall,
    GraphRouter,
    fault_error,
    graph_time,
    new_id,
)

REELS = GraphRouter()

#: Where the fake serves rupload.facebook.com: <fake>/rupload/video-upload/vNN.0/{video-id}.
RUPLOAD_MOUNT = "/rupload"
#: ✅ "Reels API is limited to 30 API-published posts within a 24-hour moving period."
REELS_PER_DAY = 30
#: The fake's own store: each Page's reels, by the fake clock time they were published.
_REELS_STORE = "fb_reels"
_STORIES_STORE = "fb_stories"
VIDEO_STATES = frozenset({"PUBLISHED", "DRAFT", "SCHEDULED"})


def _phase_endpoint(params: dict[str, Any]) -> str:
    # start is an idempotent upload step (an invisible session); finish publishes.
    return "commit" if as_text(params.get("upload_phase")).lower() == "finish" else "upload"


def _require_page_token(call: GraphCall) -> None:
    if call.token.kind == "user":
        raise errors.GraphError(190, "(#190) This method must be called with a Page Access "
                                     "Token")


def reels_published(state: FakeState, page_id: str, since: float) -> list[float]:
    """When the Page's reels were published, from `since` on (the state lock is held)."""
    times: list[float] = state.data.platforms.setdefault(_REELS_STORE, {}).get(page_id, [])
    return [t for t in times if t >= since]


def stories_of(state: FakeState, page_id: str) -> list[FbStory]:
    """The Page's stories, oldest first (tests and the sandbox page)."""
    with state.lock:
        ids = list(state.data.platforms.get(_STORIES_STORE, {}).get(page_id, []))
        return [s for i in ids if isinstance(s := state.data.nodes.get(i), FbStory)]


# --- upload sessions -----------------------------------------------------------------------


@REELS.route("POST", "page", "video_reels", endpoint=_phase_endpoint)
async def video_reels(call: GraphCall) -> dict[str, Any]:
    return await _session(call, "reel")


@REELS.route("POST", "page", "video_stories", endpoint=_phase_endpoint)
async def video_stories(call: GraphCall) -> dict[str, Any]:
    return await _session(call, "story")


async def _session(call: GraphCall, kind: str) -> dict[str, Any]:
    _require_page_token(call)
    phase = as_text(call.params.get("upload_phase")).lower()
    if phase == "start":
        return _start(call, kind)
    if phase == "finish":
        return await _finish(call, kind)
    raise errors.invalid_param("The parameter upload_phase must be start or finish")


def _start(call: GraphCall, kind: str) -> dict[str, Any]:
    state, page = call.state, call.account
    with state.lock:
        video = FbVideo(id=new_id(state, "1224000"), account_id=page.id, file_url=None,
                        description="", title="", created_at=state.now(), post_id="",
                        ready_polls=state.config.fb_video_polls, kind=kind, uploaded=False)
        state.data.nodes[video.id] = video
    version = call.request.path_params["version"]
    upload_url = f"{call.fake_root()}{RUPLOAD_MOUNT}/video-upload/{version}/{video.id}"
    return {"video_id": video.id, "upload_url": upload_url}


def _session_video(call: GraphCall, kind: str) -> FbVideo:
    video_id = as_text(call.params.get("video_id"))
    video = call.state.data.nodes.get(video_id)
    if not isinstance(video, FbVideo) or video.kind != kind or \
            video.account_id != call.account.id:
        raise errors.invalid_param(f"The video_id {video_id!r} is not an upload session of "
                                   f"this Page's {kind}s")
    if not video.uploaded:
        raise errors.GraphError(6000, "There was a problem uploading your video file. "
                                      "Please try again with another file.", subcode=1363130)
    return video


async def _finish(call: GraphCall, kind: str) -> dict[str, Any]:
    state, page, params = call.state, call.account, call.params
    description = as_text(params.get("description"))
    call.info.caption = description
    with state.lock:
        video = _session_video(call, kind)
        file_url = video.file_url
    failed = call.info.processing_error
    if file_url and state.config.fetch_media and not failed:
        # Meta fetches file_url after rupload answers; a bad URL shows up in the status.
        failed = not await call.fetcher.reachable(state, file_url)
    with state.lock:
        video = _session_video(call, kind)
        now = state.now()
        if video.finished_at is not None:
            # Finishing a session twice publishes nothing new: the same reel is answered.
            return _finished(video)
        if kind == "reel":
            state_param = as_text(params.get("video_state")).upper()
            if state_param not in VIDEO_STATES:
                raise errors.invalid_param("The parameter video_state is required "
                                           "(PUBLISHED, DRAFT or SCHEDULED)")
            if state_param != "PUBLISHED":
                raise errors.invalid_param("The fake publishes reels only "
                                           "(video_state=PUBLISHED)")
            if len(reels_published(state, page.id, now - DAY)) >= REELS_PER_DAY:
                raise errors.GraphError(9, f"(#9) This Page has reached its limit of "
                                           f"{REELS_PER_DAY} reels published through the "
                                           "API in 24 hours.")
            state.data.platforms.setdefault(_REELS_STORE, {}).setdefault(
                page.id, []).append(now)
        video.description, video.failed, video.finished_at = description, failed, now
        video.post_id = f"{page.id}_{new_id(state, '1221000')}"
        permalink = call.permalink(video.id)
        if kind == "story":
            _add_story(call, video.post_id, video.id, "video", file_url)
        state.record_published(PublishedRecord(
            platform=FACEBOOK, account=page.id, kind=kind, caption=description,
            media_urls=tuple(filter(None, [file_url])),
            external_id=video.id if kind == "reel" else video.post_id, permalink=permalink,
            published_at=utc(now), dropped=call.info.dropping, media_ids=(video.id,)))
        call.info.external_id = video.id if kind == "reel" else video.post_id
        return _finished(video)


def _finished(video: FbVideo) -> dict[str, Any]:
    return {"success": True} if video.kind == "reel" else {"success": True,
                                                           "post_id": video.post_id}


def reel_status(video: FbVideo) -> dict[str, Any]:
    """`status` of an upload session: uploading, processing, then publishing."""
    done, waiting = {"status": "complete"}, {"status": "not_started"}
    if not video.uploaded:
        return {"video_status": "upload_not_started", "uploading_phase": waiting,
                "processing_phase": waiting, "publishing_phase": waiting}
    if video.finished_at is None:
        return {"video_status": "upload_complete", "uploading_phase": done,
                "processing_phase": {"status": "in_progress"}, "publishing_phase": waiting}
    if video.failed:
        return {"video_status": "error", "uploading_phase": done,
                "processing_phase": {"status": "error", "errors": [
                    {"code": 1363008, "message": "Video processing failed"}]},
                "publishing_phase": waiting}
    if video.polls_since_finish < video.ready_polls:
        return {"video_status": "processing", "uploading_phase": done,
                "processing_phase": {"status": "in_progress"},
                "publishing_phase": {"status": "in_progress"}}
    return {"video_status": "ready", "uploading_phase": done, "processing_phase": done,
            "publishing_phase": {"status": "complete", "publish_status": "published",
                                 "publish_time": int(video.finished_at)}}


@REELS.route("GET", "page", "video_reels")
async def list_reels(call: GraphCall) -> dict[str, Any]:
    """The Page's published reels, newest first."""
    with call.state.lock:
        reels = [v for v in call.state.data.nodes.values() if isinstance(v, FbVideo)
                 and v.kind == "reel" and v.account_id == call.account.id
                 and v.finished_at is not None]
    reels.sort(key=lambda v: (v.finished_at or 0.0, v.id), reverse=True)
    return call.page([call.select("Video", {
        "id": v.id, "description": v.description or None,
        "created_time": graph_time(v.finished_at or v.created_at),
        "permalink_url": call.permalink(v.id)}) for v in reels])


# --- photo stories and the stories list ----------------------------------------------------


@REELS.route("POST", "page", "photo_stories", endpoint="commit")
async def photo_stories(call: GraphCall) -> dict[str, Any]:
    _require_page_token(call)
    state, page = call.state, call.account
    photo_id = as_text(call.params.get("photo_id"))
    call.info.caption = ""
    with state.lock:
        photo = state.data.nodes.get(photo_id)
        if (not isinstance(photo, FbPhoto) or photo.account_id != page.id or photo.published
                or photo.post_id is not None):
            raise errors.invalid_param(f"The photo_id {photo_id!r} is not an unpublished "
                                       "photo of this Page")
        now = state.now()
        post_id = f"{page.id}_{new_id(state, '1221000')}"
        photo.post_id = post_id
        _add_story(call, post_id, photo.id, "photo", photo.url)
        state.record_published(PublishedRecord(
            platform=FACEBOOK, account=page.id, kind="story", caption="",
            media_urls=tuple(filter(None, [photo.url])), external_id=post_id,
            permalink=call.permalink(post_id), published_at=utc(now),
            dropped=call.info.dropping, media_ids=(photo.id,)))
    call.info.external_id = post_id
    return {"success": True, "post_id": post_id}


def _add_story(call: GraphCall, post_id: str, media_id: str, media_type: str,
               url: str | None) -> None:
    """Keep a new story; the caller holds the state lock."""
    data = call.state.data
    story = FbStory(id=post_id, account_id=call.account.id, media_id=media_id,
                    media_type=media_type, created_at=call.state.now(), url=url)
    data.nodes[post_id] = story
    data.platforms.setdefault(_STORIES_STORE, {}).setdefault(story.account_id, []).append(
        post_id)


def _story_fields(call: GraphCall, story: FbStory) -> dict[str, Any]:
    return {"id": story.id, "post_id": story.id, "status": "PUBLISHED",
            "creation_time": graph_time(story.created_at), "media_type": story.media_type,
            "media_id": story.media_id, "url": call.permalink(story.id),
            "permalink_url": call.permalink(story.id)}


@REELS.route("GET", "page", "stories")
async def list_stories(call: GraphCall) -> dict[str, Any]:
    stories = list(reversed(stories_of(call.state, call.account.id)))  # newest first
    return call.page([_story_fields(call, s) for s in stories])


@REELS.route("GET", "fb_story")
async def get_story(call: GraphCall) -> dict[str, Any]:
    assert isinstance(call.node, FbStory)
    return call.select("Story", _story_fields(call, call.node))


# --- rupload.facebook.com ------------------------------------------------------------------


def rupload_routes(state: FakeState) -> list[Route]:
    async def endpoint(request: Request) -> Response:
        return await _rupload(state, request)

    return [Route("/video-upload/{version}/{video_id}", endpoint, methods=["POST"])]


def _upload_error(status: int, message: str) -> JSONResponse:
    # rupload answers in its own envelope, not Graph's.
    return JSONResponse({"debug_info": {"retriable": False, "type": "OAuthException"
                                        if status == 401 else "ProcessingFailedError",
                                        "message": message}}, status_code=status)


async def _rupload(state: FakeState, request: Request) -> Response:
    await pause(state)
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    token = state.token("graph", value.strip()) if scheme.lower() == "oauth" else None
    if token is None:
        return _upload_error(401, "Invalid OAuth access token.")
    video_id = request.path_params["video_id"]
    with state.lock:
        video = state.data.nodes.get(video_id)
    if not isinstance(video, FbVideo) or video.account_id not in token.accounts:
        return _upload_error(400, f"No upload session {video_id}.")
    file_url = request.headers.get("file_url", "").strip()
    info = CallInfo(platform=FACEBOOK, endpoint="upload", name="rupload",
                    account=video.account_id)

    async def handle() -> Response:
        if not file_url.startswith(("http://", "https://")):
            # ❓ Meta's answer to a missing file_url is undocumented; a 400 is assumed.
            return _upload_error(400, "A file_url header (or the file's bytes) is required.")
        with state.lock:
            video.file_url, video.uploaded = file_url, True
        return JSONResponse({"success": True})

    def refuse(rule: FaultRule) -> Response:
        exc = fault_error(rule)
        return JSONResponse(exc.body(), status_code=exc.status)

    return await run_call(state, info, handle, refuse)
