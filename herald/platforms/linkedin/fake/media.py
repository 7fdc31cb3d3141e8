"""LinkedIn images, videos and documents: initializeUpload, the upload URLs, finalizeUpload
and status reads."""

from __future__ import annotations

import string
from typing import Any

from starlette.responses import JSONResponse, Response

from herald.platforms.linkedin.fake.api import LiCall, error, forbidden, millis, not_found
from herald.platforms.linkedin.fake.models import LiAsset, LiPart

PART_SIZE = 4 * 1024 * 1024  # LinkedIn hands out 4 MiB parts
VIDEO_MAX_BYTES = 500 * 1024 * 1024  # ◐ 75 KB to 500 MB; the lower bound is not enforced
#: Recently uploaded images kept for the sandbox page (small ones only).
KEEP_IMAGES, KEEP_IMAGE_BYTES = 200, 2 * 1024 * 1024
UPLOAD_URL_TTL = 86_400.0
_PREFIX = {"image": "D4E10AQ", "video": "D5610AQ", "document": "D4D10AQ"}
_ALPHABET = string.digits + string.ascii_letters


def _asset_id(call: LiCall, kind: str) -> str:
    # Spread the counter so ids look like LinkedIn's opaque ones yet stay reproducible.
    number = call.state.next_number() * 2_654_435_761 % 62**12
    digits = ""
    for _ in range(12):
        number, digit = divmod(number, 62)
        digits += _ALPHABET[digit]
    return _PREFIX[kind] + digits


def _action(call: LiCall, expected: tuple[str, ...]) -> str:
    action = call.request.query_params.get("action", "")
    if action not in expected:
        raise error(400, f"Unsupported action {action!r}; expected one of {list(expected)}")
    return action


def _request(call: LiCall, key: str) -> dict[str, Any]:
    inner = call.body.get(key)
    if not isinstance(inner, dict):
        raise error(400, f"The request body must contain a {key} object")
    return inner


def _owner(call: LiCall, request: dict[str, Any], resource: str) -> str:
    owner = request.get("owner")
    if not isinstance(owner, str) or not owner.startswith(("urn:li:person:",
                                                          "urn:li:organization:")):
        raise error(400, "owner must be a person or organization URN")
    if not call.may_act_as(owner):
        raise forbidden(f"{resource}.CREATE", call.version)
    return owner


def _new_asset(call: LiCall, kind: str, owner: str) -> LiAsset:
    asset_id = _asset_id(call, kind)
    asset = LiAsset(urn=f"urn:li:{kind}:{asset_id}", kind=kind, owner=owner,
                    created_at=call.state.now())
    if call.info.processing_error:
        asset.fail_processing = True
    return asset


# --- images and documents ----------------------------------------------------------------


async def initialize_image(call: LiCall) -> Response:
    return _initialize_single(call, "image", "images")


async def initialize_document(call: LiCall) -> Response:
    return _initialize_single(call, "document", "documents")


def _initialize_single(call: LiCall, kind: str, resource: str) -> Response:
    _action(call, ("initializeUpload",))
    owner = _owner(call, _request(call, "initializeUploadRequest"), resource)
    asset = _new_asset(call, kind, owner)
    with call.state.lock:
        call.state.data.li_assets[asset.asset_id] = asset
    return JSONResponse({"value": {
        "uploadUrlExpiresAt": millis(call.state.now() + UPLOAD_URL_TTL),
        "uploadUrl": call.upload_url(asset.asset_id),
        kind: asset.urn,
    }})


async def upload_single(call: LiCall) -> Response:
    """PUT {uploadUrl}: the whole image or document in one request → 201 ❓."""
    asset_id = call.request.path_params["asset_id"]
    content = await call.request.body()
    state = call.state
    with state.lock:
        asset = state.data.li_assets.get(asset_id)
        if asset is None or asset.kind == "video":
            raise not_found(f"upload {asset_id}")
        if not content:
            raise error(400, "The upload body is empty")
        asset.size = len(content)
        asset.status = "AVAILABLE"
        if asset.kind == "image" and len(content) <= KEEP_IMAGE_BYTES:
            kept = state.data.li_image_bytes
            kept[asset_id] = (content, call.request.headers.get("content-type", "image/jpeg"))
            while len(kept) > KEEP_IMAGES:
                kept.popitem(last=False)
    return Response(status_code=201)


async def get_image(call: LiCall) -> Response:
    return _get_asset(call, "image")


async def get_document(call: LiCall) -> Response:
    return _get_asset(call, "document")


async def get_video(call: LiCall) -> Response:
    return _get_asset(call, "video")


def _get_asset(call: LiCall, kind: str) -> Response:
    urn = call.request.path_params["urn"]
    state = call.state
    with state.lock:
        asset = state.data.li_assets.get(urn.rsplit(":", 1)[-1])
        if asset is None or asset.urn != urn or asset.kind != kind:
            raise not_found(urn)
        if not call.may_act_as(asset.owner):
            raise forbidden(f"{kind}s.GET", call.version)
        if asset.status == "PROCESSING":
            asset.polls += 1
            if asset.polls > asset.ready_polls:
                asset.status = "PROCESSING_FAILED" if asset.fail_processing else "AVAILABLE"
        body: dict[str, Any] = {"id": asset.urn, "owner": asset.owner, "status": asset.status}
    if asset.status == "PROCESSING_FAILED":
        body["processingFailureReason"] = "Video processing failed"
    if asset.status == "AVAILABLE" and kind == "image":
        body["downloadUrl"] = call.upload_url(asset.asset_id)
        body["downloadUrlExpiresAt"] = millis(state.now() + UPLOAD_URL_TTL)
    return JSONResponse(body)


# --- videos --------------------------------------------------------------------------------


async def video_action(call: LiCall) -> Response:
    action = _action(call, ("initializeUpload", "finalizeUpload"))
    if action == "initializeUpload":
        return _initialize_video(call)
    return _finalize_video(call)


def _initialize_video(call: LiCall) -> Response:
    request = _request(call, "initializeUploadRequest")
    owner = _owner(call, request, "videos")
    size = request.get("fileSizeBytes")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= VIDEO_MAX_BYTES:
        raise error(400, f"fileSizeBytes must be between 1 and {VIDEO_MAX_BYTES}")
    asset = _new_asset(call, "video", owner)
    asset.size = size
    asset.parts = [LiPart(first, min(first + PART_SIZE, size) - 1)
                   for first in range(0, size, PART_SIZE)]
    with call.state.lock:
        call.state.data.li_assets[asset.asset_id] = asset
    value: dict[str, Any] = {
        "video": asset.urn,
        "uploadUrlsExpireAt": millis(call.state.now() + UPLOAD_URL_TTL),
        "uploadToken": "",
        "uploadInstructions": [
            {"uploadUrl": call.upload_url(asset.asset_id, "parts", str(index)),
             "firstByte": part.first_byte, "lastByte": part.last_byte}
            for index, part in enumerate(asset.parts)
        ],
    }
    if request.get("uploadThumbnail"):
        value["thumbnailUploadUrl"] = call.upload_url(asset.asset_id, "thumbnail")
    if request.get("uploadCaptions"):
        value["captionsUploadUrl"] = call.upload_url(asset.asset_id, "captions")
    return JSONResponse({"value": value})


async def upload_part(call: LiCall) -> Response:
    """PUT one byte range of a video; the ETag answered is what finalizeUpload wants back."""
    asset_id = call.request.path_params["asset_id"]
    index = call.request.path_params["index"]
    content = await call.request.body()
    state = call.state
    with state.lock:
        asset = state.data.li_assets.get(asset_id)
        if asset is None or asset.kind != "video":
            raise not_found(f"upload {asset_id}")
        if not index.isdigit() or int(index) >= len(asset.parts):
            raise not_found(f"part {index} of {asset_id}")
        part = asset.parts[int(index)]
        expected = part.last_byte - part.first_byte + 1
        if len(content) != expected:
            raise error(400, f"Part {index} must be {expected} bytes, got {len(content)}")
        part.etag = f"/ambry-video/signedId/{asset_id}/part{index}/{state.next_number()}"
        etag = part.etag
    return Response(status_code=200, headers={"ETag": etag})


async def upload_extra(call: LiCall) -> Response:
    """PUT of a video thumbnail or captions file: accepted and forgotten."""
    with call.state.lock:
        asset = call.state.data.li_assets.get(call.request.path_params["asset_id"])
    if asset is None or asset.kind != "video":
        raise not_found("upload")
    return Response(status_code=201)


def _finalize_video(call: LiCall) -> Response:
    request = _request(call, "finalizeUploadRequest")
    urn = request.get("video")
    part_ids = request.get("uploadedPartIds")
    if not isinstance(urn, str) or not isinstance(part_ids, list):
        raise error(400, "finalizeUploadRequest needs video and uploadedPartIds")
    state = call.state
    with state.lock:
        asset = state.data.li_assets.get(urn.rsplit(":", 1)[-1])
        if asset is None or asset.urn != urn:
            raise not_found(urn)
        if not call.may_act_as(asset.owner):
            raise forbidden("videos.FINALIZE", call.version)
        etags = [part.etag for part in asset.parts]
        if None in etags:
            missing = [i for i, tag in enumerate(etags) if tag is None]
            raise error(400, f"Parts {missing} of {urn} were never uploaded")
        if part_ids != etags:
            raise error(400, "uploadedPartIds do not match the uploaded parts (in order)")
        if asset.status == "WAITING_UPLOAD":
            asset.status = "PROCESSING"
            asset.ready_polls = state.config.li_video_polls
            asset.fail_processing = asset.fail_processing or call.info.processing_error
    return Response(status_code=200)
