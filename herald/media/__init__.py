"""Media: what a file is, the stores uploads go to, safe fetching, scheduling-time checks.

`probing` reads a file's bytes (type, size, dimensions, length); `prepare` makes an upload
fit to post; `stores` keeps it and gives it a public URL (a local folder or S3); `fetch`
downloads media by URL without reaching private addresses; `inspection` runs the checks
a post gets when it is scheduled. Pillow and boto3 are imported only by the functions
that need them: a worker imports this package and neither of those.
"""

from __future__ import annotations

from herald.media.fetch import MediaURLError, fetch_media_url
from herald.media.inspection import InspectedMedia, MediaInspector
from herald.media.prepare import DEFAULT_JPEG_QUALITY, content_name, prepare_upload, to_jpeg
from herald.media.probing import (
    DEFAULT_MAX_UPLOAD_BYTES,
    MediaError,
    MediaInfo,
    MediaTooLargeError,
    UnsupportedMediaError,
    human_size,
    probe,
)
from herald.media.stores import (
    LocalMediaStore,
    MediaStore,
    MediaStoreError,
    S3MediaStore,
    StoredMedia,
    build_store,
    save_async,
    save_file_async,
)

__all__ = [
    "DEFAULT_JPEG_QUALITY", "DEFAULT_MAX_UPLOAD_BYTES", "InspectedMedia", "LocalMediaStore",
    "MediaError", "MediaInfo", "MediaInspector", "MediaStore", "MediaStoreError",
    "MediaTooLargeError", "MediaURLError", "S3MediaStore", "StoredMedia",
    "UnsupportedMediaError", "build_store", "content_name", "fetch_media_url", "human_size",
    "prepare_upload", "probe", "save_async", "save_file_async", "to_jpeg",
]
