"""LinkedIn /rest/posts: create (with duplicate detection and the daily limit), get, and the
author finder."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from herald.platforms.fake.models import DAY, LINKEDIN, PublishedRecord, utc
from herald.platforms.linkedin.fake.api import (
    LiCall,
    error,
    forbidden,
    input_error,
    millis,
    not_found,
    throttled,
)
from herald.platforms.linkedin.fake.models import LiPost
from herald.platforms.linkedin.ltf import render_commentary

COMMENTARY_MAX = 3000  # ◐ widely assumed, not found verbatim
MULTI_IMAGE_MIN, MULTI_IMAGE_MAX = 2, 20
VISIBILITIES = frozenset({"PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"})
FEED_DISTRIBUTIONS = frozenset({"MAIN_FEED", "NONE"})
LIFECYCLES = frozenset({"PUBLISHED", "DRAFT"})
# The Poll API [LI-POLL]: 2 to 4 options and four durations ✅; the 140/30 character limits
# are the composer's, as clients document them ◐ (LinkedIn's answer to more is ❓: a 422).
POLL_OPTIONS_MIN, POLL_OPTIONS_MAX = 2, 4
POLL_QUESTION_MAX, POLL_OPTION_MAX = 140, 30
POLL_DURATIONS = frozenset({"ONE_DAY", "THREE_DAYS", "SEVEN_DAYS", "FOURTEEN_DAYS"})
_FIRST_SHARE = 7_400_000_000_000_000_000


async def create_post(call: LiCall) -> Response:
    body = call.body
    author = body.get("author")
    commentary = body.get("commentary", "")
    if isinstance(commentary, str):
        # Stored exactly as received: tests check Little Text Format escapes arrive intact.
        call.info.caption = commentary
    if not isinstance(author, str) or not author:
        raise input_error("MISSING_REQUIRED_FIELD", "Field /author is required", "author")
    call.info.account = author
    if not author.startswith(("urn:li:person:", "urn:li:organization:")):
        raise input_error("INVALID_VALUE", f"Invalid author {author!r}", "author")
    if not call.may_act_as(author):
        raise forbidden("partnerApiPostsExternal.CREATE", call.version)
    _validate_shape(body, commentary)

    state = call.state
    with state.lock:
        now = state.now()
        kind, media_urls, media_ids = _check_content(call, author, body.get("content"))
        published = body["lifecycleState"] == "PUBLISHED"
        if published and commentary:
            original = state.data.li_first_post.get((author, commentary))
            if original is not None:
                raise input_error(
                    "DUPLICATE_POST", "Duplicate post is detected",
                    message=f"Unable to create the post. Content is a duplicate of {original}",
                )
        if published and _posts_today(call, author, now) >= state.config.li_daily_limit:
            raise throttled("MEMBER")
        urn = f"urn:li:share:{_FIRST_SHARE + state.next_number()}"
        state.data.li_posts[urn] = LiPost(urn=urn, author=author, commentary=commentary,
                                          body=body, created_at=now)
        state.data.li_by_author.setdefault(author, []).append(urn)
        if published:
            if commentary:
                state.data.li_first_post[(author, commentary)] = urn
            state.record_published(PublishedRecord(
                platform=LINKEDIN, account=author, kind=kind, caption=commentary,
                shown_caption=render_commentary(commentary) + _poll_text(body),
                media_urls=media_urls, external_id=urn, permalink=f"{call.fake_root()}/?id={urn}",
                published_at=utc(now), dropped=call.info.dropping, media_ids=media_ids,
            ))
    call.info.external_id = urn
    return Response(status_code=201, headers={"x-restli-id": urn})


def _validate_shape(body: dict[str, Any], commentary: Any) -> None:
    if not isinstance(commentary, str):
        raise input_error("INVALID_VALUE", "commentary must be a string", "commentary")
    if len(commentary) > COMMENTARY_MAX:
        raise input_error("FIELD_VALUE_TOO_LONG",
                          f"commentary is longer than {COMMENTARY_MAX} characters", "commentary")
    if body.get("visibility") not in VISIBILITIES:
        raise input_error("INVALID_VALUE", "visibility must be one of "
                          f"{sorted(VISIBILITIES)}", "visibility")
    distribution = body.get("distribution")
    if not isinstance(distribution, dict):
        raise input_error("MISSING_REQUIRED_FIELD", "Field /distribution is required",
                          "distribution")
    if distribution.get("feedDistribution") not in FEED_DISTRIBUTIONS:
        raise input_error("INVALID_VALUE", "feedDistribution must be MAIN_FEED or NONE",
                          "distribution/feedDistribution")
    if body.get("lifecycleState") not in LIFECYCLES:
        raise input_error("INVALID_VALUE", "lifecycleState must be PUBLISHED or DRAFT",
                          "lifecycleState")
    if not commentary and not body.get("content"):
        raise input_error("MISSING_REQUIRED_FIELD", "A post needs commentary or content",
                          "commentary")


def _check_content(
    call: LiCall, author: str, content: Any
) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The record kind, media URLs and URNs of a post's content; the state lock is held."""
    if content is None:
        return "text", (), ()
    if not isinstance(content, dict) or len(content) != 1:
        raise input_error("INVALID_VALUE", "content must hold exactly one of media, "
                          "multiImage, article or poll", "content")
    if isinstance(media := content.get("media"), dict):
        urn = media.get("id")
        kind = _usable_asset(call, author, urn, "content/media/id", None)
        return kind, (_asset_url(call, kind, str(urn)),), (str(urn),)
    if isinstance(multi := content.get("multiImage"), dict):
        images = multi.get("images")
        if not isinstance(images, list) or not (MULTI_IMAGE_MIN <= len(images) <= MULTI_IMAGE_MAX):
            raise input_error("INVALID_VALUE", f"multiImage needs {MULTI_IMAGE_MIN} to "
                              f"{MULTI_IMAGE_MAX} images", "content/multiImage/images")
        urns = []
        for index, image in enumerate(images):
            urn = image.get("id") if isinstance(image, dict) else None
            _usable_asset(call, author, urn, f"content/multiImage/images/{index}/id", "image")
            urns.append(str(urn))
        return "multi_image", tuple(_asset_url(call, "image", u) for u in urns), tuple(urns)
    if isinstance(article := content.get("article"), dict):
        source = article.get("source")
        if not isinstance(source, str) or not source.startswith(("http://", "https://")):
            raise input_error("INVALID_VALUE", "article.source must be an http(s) URL",
                              "content/article/source")
        thumbnail = article.get("thumbnail")
        if thumbnail is not None:
            _usable_asset(call, author, thumbnail, "content/article/thumbnail", "image")
            return "article", (source,), (str(thumbnail),)
        return "article", (source,), ()
    if isinstance(poll := content.get("poll"), dict):
        _check_poll(poll)
        return "poll", (), ()
    raise input_error("INVALID_VALUE", "Unsupported content type", "content")


def _poll_text(body: dict[str, Any]) -> str:
    """How the sandbox page shows a poll: its question and options after the commentary."""
    content = body.get("content")
    poll = content.get("poll") if isinstance(content, dict) else None
    if not isinstance(poll, dict):
        return ""
    options = " / ".join(str(o.get("text")) for o in poll.get("options", []))
    return f"\n[poll] {poll.get('question')} ({options})"


def _check_poll(poll: dict[str, Any]) -> None:
    question = poll.get("question")
    if not isinstance(question, str) or not question.strip():
        raise input_error("MISSING_REQUIRED_FIELD", "Field /question is required",
                          "content/poll/question")
    if len(question) > POLL_QUESTION_MAX:
        raise input_error("FIELD_VALUE_TOO_LONG", f"question is longer than "
                          f"{POLL_QUESTION_MAX} characters", "content/poll/question")
    options = poll.get("options")
    if not isinstance(options, list) or not (
            POLL_OPTIONS_MIN <= len(options) <= POLL_OPTIONS_MAX):
        raise input_error("INVALID_VALUE", f"A poll needs {POLL_OPTIONS_MIN} to "
                          f"{POLL_OPTIONS_MAX} options", "content/poll/options")
    for index, option in enumerate(options):
        text = option.get("text") if isinstance(option, dict) else None
        if not isinstance(text, str) or not text.strip() or len(text) > POLL_OPTION_MAX:
            raise input_error("INVALID_VALUE", f"option text must be 1 to {POLL_OPTION_MAX} "
                              "characters", f"content/poll/options/{index}/text")
    duration = (poll.get("settings") or {}).get("duration") \
        if isinstance(poll.get("settings"), dict) else None
    if duration not in POLL_DURATIONS:
        raise input_error("INVALID_VALUE", f"settings.duration must be one of "
                          f"{sorted(POLL_DURATIONS)}", "content/poll/settings/duration")


def _usable_asset(call: LiCall, author: str, urn: Any, field: str, want: str | None) -> str:
    """Check a content URN names an uploaded asset of the author; returns its kind.

    ❓ LinkedIn's exact answers here are not documented; the fake uses 422 input errors.
    """
    if not isinstance(urn, str) or not urn.startswith("urn:li:"):
        raise input_error("INVALID_VALUE", f"{field} must be a media URN", field)
    asset = call.state.data.li_assets.get(urn.rsplit(":", 1)[-1])
    if asset is None or asset.urn != urn or (want is not None and asset.kind != want):
        raise input_error("INVALID_MEDIA", f"{urn} does not exist", field)
    if asset.owner != author:
        raise input_error("INVALID_MEDIA", f"{urn} belongs to {asset.owner}, not {author}", field)
    if asset.status != "AVAILABLE":
        raise input_error("MEDIA_NOT_AVAILABLE",
                          f"{urn} is {asset.status}, not AVAILABLE", field)
    return asset.kind


def _asset_url(call: LiCall, kind: str, urn: str) -> str:
    # Only images can be shown back (their bytes are kept); other kinds keep their URN.
    return call.upload_url(urn.rsplit(":", 1)[-1]) if kind == "image" else urn


def _posts_today(call: LiCall, author: str, now: float) -> int:
    # LinkedIn's daily limits reset at midnight UTC. Counted per author (❓ really per member).
    midnight = now - now % DAY
    posts, count = call.state.data.li_posts, 0
    for urn in reversed(call.state.data.li_by_author.get(author, [])):
        if posts[urn].created_at < midnight:
            break  # posts are kept in creation order: the rest are older still
        count += 1
    return count


def _element(post: LiPost) -> dict[str, Any]:
    created = millis(post.created_at)
    element = dict(post.body)
    element.update({
        "id": post.urn, "createdAt": created, "lastModifiedAt": created,
        "lifecycleStateInfo": {"isEditedByAuthor": False},
    })
    if post.body.get("lifecycleState") == "PUBLISHED":
        element["publishedAt"] = created
    return element


async def get_post(call: LiCall) -> Response:
    urn = call.request.path_params["urn"]
    with call.state.lock:
        post = call.state.data.li_posts.get(urn)
    if post is None:
        raise not_found(urn)
    if not call.may_act_as(post.author):
        raise forbidden("partnerApiPostsExternal.GET", call.version)
    return JSONResponse(_element(post))


async def find_posts(call: LiCall) -> Response:
    """GET /rest/posts?q=author&author=…: an organization's posts, newest first."""
    query = call.request.query_params
    if query.get("q") != "author":
        raise error(400, "Only the author finder (q=author) is supported")
    author = query.get("author", "")
    if not call.may_act_as(author) or author.startswith("urn:li:person:"):
        # Reading a member's posts needs the restricted r_member_social scope: refuse, as
        # LinkedIn does for ordinary apps.
        raise forbidden("partnerApiPostsExternal.FINDER-author", call.version)
    try:
        start = max(0, int(query.get("start", "0")))
        count = max(1, min(100, int(query.get("count", "10"))))
    except ValueError:
        raise error(400, "start and count must be integers") from None
    with call.state.lock:
        urns = list(reversed(call.state.data.li_by_author.get(author, [])))
        posts = [call.state.data.li_posts[u] for u in urns]
    elements = [_element(p) for p in posts[start:start + count]]
    return JSONResponse({
        "paging": {"start": start, "count": count, "links": [], "total": len(posts)},
        "elements": elements,
    })
