"""An event as a message a person reads: a title and a few lines, with a link to Herald.

Built from the event's data, the API's view of the post or account, which never holds a
token; and passed through the log redaction too, so a secret a platform echoed into an
error message does not reach an inbox or a chat either.
"""

from __future__ import annotations

from typing import Any

from herald.events.types import EventType
from herald.logs import redact
from herald.platforms.registry import DISPLAY_NAMES

#: Caption characters quoted in a message.
QUOTE = 80


def _platform(name: Any) -> str:
    return DISPLAY_NAMES.get(str(name), str(name))


def _quote(caption: Any) -> str:
    text = " ".join(str(caption or "").split())
    return f"“{text[:QUOTE]}…”" if len(text) > QUOTE else f"“{text}”" if text else "(no text)"


def render(kind: str, data: dict[str, Any], *, public_url: str) -> tuple[str, str]:
    """(title, body) for an event of `kind` about `data`."""
    title, lines = _compose(kind, data, public_url.rstrip("/"))
    return redact(title)[:300], redact("\n".join(lines))


def _compose(kind: str, data: dict[str, Any], base: str) -> tuple[str, list[str]]:
    if kind.startswith("post."):
        where = _platform(data.get("platform"))
        link = f"{base}/posts/{data.get('id')}"
        caption = _quote(data.get("caption"))
        if kind == EventType.POST_FAILED:
            return (f"A {where} post failed", [
                f"Herald could not publish {caption} to {where}.",
                f"Why: {data.get('error_message') or 'no reason was given'}",
                f"Fix it and retry: {link}"])
        if kind == EventType.POST_UNCONFIRMED:
            return (f"Check a {where} post: it may or may not be out", [
                f"Herald cannot tell whether {where} took {caption}.",
                f"{data.get('error_message') or ''}".strip(),
                f"Look on {where}; if it is not there, retry it: {link}"])
        if kind == EventType.POST_PUBLISHED:
            return (f"Published on {where}", [
                f"{caption} is live on {where}: {data.get('permalink') or link}"])
        return (f"A {where} post was cancelled", [f"{caption} will not be published.",
                                                  link])
    if kind in (EventType.APPROVAL_REQUESTED, EventType.APPROVAL_DECIDED):
        where = _platform(data.get("platform"))
        link = f"{base}/posts/{data.get('id')}"
        caption = _quote(data.get("caption"))
        if kind == EventType.APPROVAL_REQUESTED and data.get("approval_step") == "client":
            return (f"A {where} post awaits the client's approval", [
                f"{caption} was approved by {data.get('approved_by') or 'the team'} and "
                "now waits for the client.", link])
        if kind == EventType.APPROVAL_REQUESTED:
            return (f"A {where} post awaits approval", [
                f"{caption} by {data.get('created_by') or 'a member'} waits for an approver.",
                f"Approve or reject it: {base}/approvals"])
        if data.get("status") == "draft":
            return (f"A {where} post was rejected", [
                f"{caption} went back to draft: {data.get('review_note') or ''}".strip(),
                link])
        return (f"A {where} post was approved", [
            f"{caption} was approved by {data.get('approved_by') or 'an approver'}.", link])
    if kind in (EventType.THREAD_COMMENTED, EventType.THREAD_MENTIONED):
        post = data.get("post") or {}
        where = _platform(post.get("platform"))
        who = data.get("author") or "Someone"
        did = "mentioned you" if kind == EventType.THREAD_MENTIONED else "commented"
        return (f"{who} {did} on a {where} post", [
            _quote(data.get("body")).replace("(no text)", ""),
            f"On {_quote(post.get('caption'))}: {base}/posts/{post.get('id')}#comments"])
    if kind in (EventType.COMMENT_PUBLISHED, EventType.COMMENT_FAILED):
        where = _platform(data.get("platform"))
        link = f"{base}/posts/{data.get('id')}"
        state = data.get("first_comment_state") or {}
        if kind == EventType.COMMENT_FAILED:
            return (f"A first comment on {where} failed", [
                f"{_quote(data.get('caption'))} is published; its first comment is not.",
                f"Why: {state.get('error') or 'no reason was given'}",
                f"Retry the comment alone: {link}"])
        return (f"First comment posted on {where}", [
            f"{_quote(state.get('text'))} is under {_quote(data.get('caption'))}: {link}"])
    if kind == EventType.ACCOUNT_NEEDS_REAUTH:
        where = _platform(data.get("platform"))
        return (f"Reconnect {data.get('name')} ({where})", [
            f"Herald can no longer post to {data.get('name')} on {where}: "
            f"{data.get('state_reason') or 'its access was revoked or expired'}.",
            f"Its posts fail until it is reconnected: {base}/accounts"])
    if kind == EventType.WEBHOOK_DISABLED:
        return ("A webhook was turned off", [
            f"{data.get('url')}: {data.get('disabled_reason') or ''}".strip(),
            f"{base}/settings/webhooks"])
    return (kind, [f"{base}/"])


def digest(company: str, counts: dict[str, int], problems: list[dict[str, Any]],
           upcoming: int, *, day: str, public_url: str) -> tuple[str, str]:
    """The daily digest: yesterday's numbers, what needs a person, what comes next."""
    base = public_url.rstrip("/")
    lines = [f"{company}, the last 24 hours (to {day}):",
             f"  published: {counts.get('published', 0)}",
             f"  failed: {counts.get('failed', 0)}",
             f"  unconfirmed: {counts.get('unconfirmed', 0)}",
             f"Scheduled for the next 24 hours: {upcoming}"]
    if problems:
        lines.append("")
        lines.append("Needs a look:")
        for post in problems[:20]:
            lines.append(f"  - {post['status']}: {_platform(post['platform'])} "
                         f"{_quote(post['caption'])} {base}/posts/{post['id']}")
        if len(problems) > 20:
            lines.append(f"  … and {len(problems) - 20} more: {base}/posts?status=failed")
    title = f"Herald daily digest for {company}: {counts.get('published', 0)} published"
    if counts.get("failed") or counts.get("unconfirmed"):
        title += f", {counts.get('failed', 0) + counts.get('unconfirmed', 0)} need a look"
    return redact(title)[:300], redact("\n".join(lines))
