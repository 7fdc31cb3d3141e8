"""Record keys chosen by Herald: a TID (timestamp identifier) derived from the post.

A TID is 13 characters of base32-sortable text for a 64-bit number: the top bit 0, 53 bits
of microseconds since 1970 and 10 bits of "clock id" (atproto.com/specs/tid). Bluesky
posts use TIDs as record keys, and createRecord takes one from the client (`rkey`): the
PDS refuses a second record under a key the repository already holds. So Herald picks the
key before the first call and every resend uses it again: a retry cannot make a second post.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
#: The TID syntax of atproto.com/specs/tid (the first character keeps the top bit 0).
TID_RE = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
#: Low bits of the timestamp replaced by the post id's hash, with the 10 clock-id bits:
#: 30 bits in all, so two posts of one account at the same instant still get two keys
#: (a clash needs 1 in 10^9 luck), while the key stays within a second of its time.
_HASHED_TIME_BITS = 20


def encode(value: int) -> str:
    """A 63-bit number as a TID's 13 characters."""
    if not 0 <= value < 1 << 63:
        raise ValueError(f"a TID holds 63 bits, not {value}")
    out = []
    for _ in range(13):
        out.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))


def decode(tid: str) -> int:
    if not TID_RE.match(tid):
        raise ValueError(f"{tid!r} is not a TID")
    value = 0
    for char in tid:
        value = value << 5 | _ALPHABET.index(char)
    return value


def post_rkey(post_id: str, at: datetime) -> str:
    """The record key of Herald post `post_id`, scheduled `at`: the same on every attempt."""
    micros = int(at.timestamp() * 1_000_000)
    digest = int.from_bytes(hashlib.sha256(post_id.encode()).digest()[:8], "big")
    hashed = digest & ((1 << (_HASHED_TIME_BITS + 10)) - 1)
    micros = (micros >> _HASHED_TIME_BITS) << _HASHED_TIME_BITS
    value = (micros << 10) | hashed
    return encode(value & ((1 << 63) - 1))


def comment_rkey(post_rkey: str) -> str:
    """The record key of a post's first comment (a reply), derived from the post's own."""
    return encode(decode(post_rkey) ^ 1)
