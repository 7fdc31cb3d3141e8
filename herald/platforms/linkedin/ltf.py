"""LinkedIn's Little Text Format: what Herald escapes in a commentary, and what LinkedIn
then shows (its escapes rendered away)."""

from __future__ import annotations

import re

_RESERVED = re.compile(r"[\\|{}@\[\]()<>#*_~]")
#: A reserved character with its escape.
_ESCAPED = re.compile(r"\\([\\|{}@\[\]()<>#*_~])")
# Kept verbatim: URN mentions, and hashtags (a "#" starting a word with a letter, after
# whitespace or at the start), which LTF turns into clickable hashtags.
_KEEP = re.compile(r"@\[[^\[\]\n]+\]\(urn:li:(?:person|organization):[\w-]+\)"
                   r"|(?<!\S)#(?=[^\W_]*[^\W\d_])[^\W_]+")


def escape_commentary(text: str) -> str:
    """Escape Little Text Format reserved characters, which otherwise truncate the post."""
    out, pos = [], 0
    for match in _KEEP.finditer(text):
        out += [_RESERVED.sub(r"\\\g<0>", text[pos:match.start()]), match.group(0)]
        pos = match.end()
    out.append(_RESERVED.sub(r"\\\g<0>", text[pos:]))
    return "".join(out)


def render_commentary(text: str) -> str:
    """What LinkedIn shows for a commentary: its Little Text Format escapes removed."""
    return _ESCAPED.sub(r"\g<1>", text)
