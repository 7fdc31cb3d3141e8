"""The fake LinkedIn REST API: /rest/posts, /rest/images, /rest/videos, /rest/documents,
plus the upload URLs it hands out (under /dms-uploads, like www.linkedin.com's)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from herald.platforms.fake.state import FakeState
from herald.platforms.linkedin.fake import comments as comments
from herald.platforms.linkedin.fake import media as media
from herald.platforms.linkedin.fake import posts as posts
from herald.platforms.linkedin.fake.api import UPLOADS, LiHandler, li_route


def linkedin_routes(state: FakeState) -> list[BaseRoute]:
    async def uploaded_image(request: Request) -> Response:
        # Unauthenticated on purpose: the sandbox page shows these in <img> tags.
        with state.lock:
            kept = state.data.li_image_bytes.get(request.path_params["asset_id"])
        if kept is None:
            return JSONResponse({"status": 404, "message": "Not Found"}, status_code=404)
        return Response(kept[0], media_type=kept[1])

    def rest(path: str, handler: LiHandler, methods: list[str], endpoint: str,
             name: str) -> Route:
        return li_route(state, path, handler, methods=methods, endpoint=endpoint, name=name)

    def upload(path: str, handler: LiHandler, name: str) -> Route:
        return li_route(state, f"{UPLOADS}{path}", handler, methods=["PUT"], endpoint="upload",
                        name=name, rest=False)

    return [
        rest("/rest/posts", posts.create_post, ["POST"], "commit", "rest/posts"),
        rest("/rest/posts", posts.find_posts, ["GET"], "read", "rest/posts.finder"),
        rest("/rest/posts/{urn}", posts.get_post, ["GET"], "read", "rest/posts.get"),
        rest("/rest/socialActions/{urn}/comments", comments.create_comment, ["POST"],
             "comment", "rest/socialActions.comments"),
        rest("/rest/socialActions/{urn}/comments", comments.list_comments, ["GET"], "read",
             "rest/socialActions.comments.list"),
        rest("/rest/images", media.initialize_image, ["POST"], "upload", "rest/images"),
        rest("/rest/images/{urn}", media.get_image, ["GET"], "read", "rest/images.get"),
        rest("/rest/documents", media.initialize_document, ["POST"], "upload",
             "rest/documents"),
        rest("/rest/documents/{urn}", media.get_document, ["GET"], "read",
             "rest/documents.get"),
        rest("/rest/videos", media.video_action, ["POST"], "upload", "rest/videos"),
        rest("/rest/videos/{urn}", media.get_video, ["GET"], "status", "rest/videos.get"),
        upload("/{asset_id}", media.upload_single, "upload"),
        upload("/{asset_id}/parts/{index}", media.upload_part, "upload.part"),
        upload("/{asset_id}/thumbnail", media.upload_extra, "upload.thumbnail"),
        upload("/{asset_id}/captions", media.upload_extra, "upload.captions"),
        Route(f"{UPLOADS}/{{asset_id}}", uploaded_image, methods=["GET"]),
    ]
