"""The sandbox page: a plain HTML list of everything the fake platforms "published"."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from herald.platforms.fake.models import PublishedRecord
from herald.platforms.fake.state import FakeState

SHOWN = 200
_VIDEO_KINDS = frozenset({"reel", "video"})
#: Kinds whose URL is a web page (an article, a Facebook link post), not a picture.
_LINK_KINDS = frozenset({"article", "link"})
_VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm")

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;background:#fafafa}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #ddd;padding:.5rem;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.caption{white-space:pre-wrap;max-width:32rem}
.sandbox-table{overflow-x:auto;max-width:100%}
.sandbox-table td{overflow-wrap:anywhere;word-break:break-word;max-width:18rem}
img{max-width:96px;max-height:96px;margin:2px;border:1px solid #ccc}
tr.dropped{background:#fff6e0}tr.focus{background:#e8f4ff}.muted{color:#888}
"""


def render_page(state: FakeState, focus: str | None,
                accounts: set[str] | None = None) -> str:
    """The standalone page; with `accounts`, only what those published (None: everything)."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Herald sandbox</title>
<style>{_STYLE}</style></head><body>
<h1>Herald sandbox</h1>
{render_table(state, focus, accounts)}</body></html>"""


def render_table(state: FakeState, focus: str | None,
                 accounts: set[str] | None = None) -> str:
    """What the fakes received, as a note and a table: the body of either sandbox page."""
    records = list(reversed(state.published()))
    if accounts is not None:
        records = [r for r in records if r.account in accounts]
    total = len(records)
    if focus:
        records = [r for r in records if r.external_id == focus]
    rows = "\n".join(_row(r, focus) for r in records[:SHOWN])
    if not rows:
        rows = '<tr><td colspan="8" class="muted">Nothing published yet.</td></tr>'
    note = (f'Showing post <code>{escape(focus)}</code> · <a href="?">all posts</a>' if focus
            else f"{total} published, newest first"
            + (f" (the latest {SHOWN} shown)" if total > SHOWN else ""))
    return f"""<p>What the emulated Facebook, Instagram and LinkedIn APIs received. {note}</p>
<div class="sandbox-table"><table><thead><tr><th>Time (UTC)</th><th>Platform</th>
<th>Account</th><th>Type</th><th>Caption</th><th>Media</th><th>External id</th><th>Link</th>
</tr></thead>
<tbody>
{rows}
</tbody></table></div>"""


def _row(record: PublishedRecord, focus: str | None) -> str:
    classes = " ".join(c for c, on in (("dropped", record.dropped),
                                        ("focus", record.external_id == focus)) if on)
    when = record.published_at.strftime("%Y-%m-%d %H:%M:%S")
    if record.scheduled_for:
        when += f'<br><span class="muted">scheduled for {record.scheduled_for:%Y-%m-%d %H:%M}'
        when += "</span>"
    if record.dropped:
        when += '<br><span class="muted">response dropped</span>'
    link = (f'<a href="{escape(record.permalink)}">permalink</a>' if record.permalink else "")
    return (
        f'<tr class="{classes}" id="{escape(record.external_id)}"><td>{when}</td>'
        f"<td>{escape(record.platform)}</td><td>{escape(record.account)}</td>"
        f"<td>{escape(record.kind)}</td><td class=\"caption\">{escape(record.shown())}</td>"
        f"<td>{_media(record)}</td><td><code>{escape(record.external_id)}</code></td>"
        f"<td>{link}</td></tr>"
    )


def _media(record: PublishedRecord) -> str:
    parts = []
    for url in record.media_urls:
        safe = escape(url)
        if not url.startswith(("http://", "https://")):
            parts.append(f"<code>{safe}</code>")
        elif (record.kind in _VIDEO_KINDS or record.kind in _LINK_KINDS
              or url.lower().split("?")[0].endswith(_VIDEO_SUFFIXES)):
            parts.append(f'<a href="{safe}">{safe}</a>')
        else:
            parts.append(f'<a href="{safe}"><img src="{safe}" alt="" loading="lazy"></a>')
    return "".join(parts)


def page_route(state: FakeState) -> Route:
    async def sandbox_page(request: Request) -> HTMLResponse:
        return HTMLResponse(render_page(state, request.query_params.get("id")))

    return Route("/", sandbox_page, methods=["GET"])
