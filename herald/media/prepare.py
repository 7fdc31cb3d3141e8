"""Preparing an upload: checked, probed, and stills other than JPEG and GIF made JPEG."""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING

# Pillow is imported by the functions that decode: a worker never does, and the import
# is about 3.5 MB of a process's resident memory (bench/idle.py reads a worker's).
if TYPE_CHECKING:
    from PIL import Image

from herald.media.probing import (
    _IMAGE_FORMATS,
    DEFAULT_MAX_UPLOAD_BYTES,
    MediaInfo,
    MediaTooLargeError,
    UnsupportedMediaError,
    _name,
    human_size,
    probe,
)

DEFAULT_JPEG_QUALITY = 90

# Kept byte for byte: every platform takes JPEG, and converting a GIF would lose animation.
_KEPT_IMAGE_FORMATS = frozenset({"JPEG", "GIF"})


_EXTENSIONS = {
    "image/jpeg": ".jpg", "image/gif": ".gif", "image/png": ".png", "image/webp": ".webp",
    "video/mp4": ".mp4", "video/quicktime": ".mov", "video/3gpp": ".3gp",
    "application/pdf": ".pdf",
}


def to_jpeg(data: bytes, *, quality: int = DEFAULT_JPEG_QUALITY) -> bytes:
    """Re-encode a still as an RGB JPEG, upright, transparency laid on white."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data), formats=_IMAGE_FORMATS) as original:
        icc_profile = original.info.get("icc_profile")
        upright = ImageOps.exif_transpose(original) or original
        rgb = _flatten(upright)
    out = io.BytesIO()
    # EXIF is not carried over: the orientation is applied and it may hold a GPS position.
    rgb.save(out, "JPEG", quality=quality, optimize=True, icc_profile=icc_profile)
    return out.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # A plain convert clips 16-bit grey to white; scale it down to 8 bits first.
        return image.convert("I").point(lambda v: v * (1 / 257)).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # JPEG has no alpha; converting straight to RGB would turn transparent areas black.
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def prepare_upload(
    data: bytes,
    *,
    filename: str | None = None,
    max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    jpeg_quality: int = DEFAULT_JPEG_QUALITY,
) -> tuple[bytes, MediaInfo]:
    """Check and probe an upload; stills other than JPEG and GIF become JPEG."""
    if len(data) > max_bytes:
        raise MediaTooLargeError(
            f"{_name(filename)} is {human_size(len(data))}; uploads are limited to "
            f"{human_size(max_bytes)}."
        )
    if not data:
        raise UnsupportedMediaError(f"{_name(filename)} is empty.")
    info = probe(data, filename=filename)
    if info.type == "image" and info.format not in _KEPT_IMAGE_FORMATS:
        data = to_jpeg(data, quality=jpeg_quality)
        info = probe(data, filename=filename)
    return data, info


def content_name(data: bytes, info: MediaInfo) -> str:
    """A content-addressed file name: the same bytes always get the same name."""
    digest = hashlib.sha256(data).hexdigest()[:32]
    return digest + _EXTENSIONS.get(info.mime, "")


