"""Uploads kept in a file, not in memory: probed in place, named by a streamed digest.

A 500 MB video read into bytes cost the server its size twice over (the chunks and the
joined copy). Videos and PDFs are kept byte for byte, so they never need to be in memory:
they are probed through a read-only map of the file (probing reads only their headers and
boxes, a few pages) and hashed by reading it in chunks. Stills are decoded and converted,
so they take the in-memory path of `prepare_upload` (its pixel cap bounds them).
"""

from __future__ import annotations

import hashlib
import mmap
import os
from typing import IO, cast

from herald.media.prepare import _EXTENSIONS
from herald.media.probing import (
    _STILL_BRANDS,
    MediaInfo,
    MediaTooLargeError,
    UnsupportedMediaError,
    _name,
    human_size,
    probe,
)

#: Below this an upload is simply read into memory: mapping and streaming buy nothing.
IN_MEMORY_BYTES = 8 * 1024 * 1024


class _MappedFile(mmap.mmap):
    """A read-only map of a file that also answers `startswith`, as `probe` asks of bytes."""

    def startswith(self, prefix: bytes) -> bool:
        return self[: len(prefix)] == prefix


def file_size(file: IO[bytes]) -> int:
    return file.seek(0, os.SEEK_END)


def kept_as_is(file: IO[bytes], *, filename: str | None, max_bytes: int) -> MediaInfo | None:
    """The probe of a large video or PDF, straight from the file; None: read it into memory."""
    size = file_size(file)
    if size > max_bytes:
        raise MediaTooLargeError(f"{_name(filename)} is {human_size(size)}; uploads are "
                                 f"limited to {human_size(max_bytes)}.")
    if size == 0:
        raise UnsupportedMediaError(f"{_name(filename)} is empty.")
    file.seek(0)
    head = file.read(12)
    file.seek(0)  # either way the caller reads the file from its start
    video = head[4:8] == b"ftyp" and head[8:12] not in _STILL_BRANDS
    if size < IN_MEMORY_BYTES or not (video or head.startswith(b"%PDF-")):
        return None
    try:
        fileno = file.fileno()
    except (AttributeError, OSError):  # an in-memory file: nothing to map
        return None
    with _MappedFile(fileno, 0, access=mmap.ACCESS_READ) as mapped:
        return probe(cast(bytes, mapped), filename=filename)


def streamed_name(file: IO[bytes], info: MediaInfo) -> str:
    """`content_name` of the file's bytes, read in chunks (the same name for the same bytes)."""
    file.seek(0)
    digest = hashlib.file_digest(file, "sha256").hexdigest()[:32]  # type: ignore[arg-type]
    file.seek(0)
    return digest + _EXTENSIONS.get(info.mime, "")
