"""Preparing an upload: checked, probed, and stills other than JPEG and GIF made JPEG."""

from __future__ import annotations

import hashlib
import io
import struct
from typing import TYPE_CHECKING

# Pillow is imported by the functions that decode: a worker never does, and the import
# is about 3.5 MB of a process's resident memory (bench/idle.py reads a worker's).
if TYPE_CHECKING:
    from PIL import Image

from herald.media.decoding import gate, pillow
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


def to_jpeg(data: bytes, *, quality: int = DEFAULT_JPEG_QUALITY,
            filename: str | None = None) -> bytes:
    """Re-encode a still as an RGB JPEG, upright, transparency laid on white.

    One decode, under the process's decode gate, and at most one more full-size copy (the
    RGB one): the decoded pixels are dropped before encoding.
    """
    from PIL import ImageOps

    Image = pillow()
    with gate().slot():
        image = Image.open(io.BytesIO(data), formats=_IMAGE_FORMATS)
        icc_profile = image.info.get("icc_profile")
        try:
            _load(image, filename)
            rgb = _flatten(image)
        except BaseException:
            image.close()
            raise
        if rgb is not image:
            image.close()  # frees the decoded pixels now, not when garbage is collected
        # In place: exif_transpose otherwise returns a copy even of an upright image.
        ImageOps.exif_transpose(rgb, in_place=True)
        out = io.BytesIO()
        # EXIF is not carried over: the orientation is applied and it may hold a GPS position.
        rgb.save(out, "JPEG", quality=quality, optimize=True, icc_profile=icc_profile)
        rgb.close()
    return out.getvalue()


def _load(image: Image.Image, filename: str | None) -> None:
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, struct.error) as exc:
        raise UnsupportedMediaError(
            f"{_name(filename)} looks like an image but is damaged ({exc})."
        ) from None


def _flatten(image: Image.Image) -> Image.Image:
    """RGB pixels of `image`: itself if it is RGB already, else one new image."""
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # A plain convert clips 16-bit grey to white; scale it down to 8 bits first.
        return image.convert("I").point(lambda v: v * (1 / 257)).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # JPEG has no alpha; converting straight to RGB would turn transparent areas black.
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba)  # an RGBA mask is its alpha: no copy of the channel
        background.info = dict(image.info)  # the EXIF orientation, for exif_transpose
        return background
    if image.mode == "RGB":
        return image
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
    # The header first: the size is checked before any decode, and what is converted is
    # decoded once, by the conversion (which finds damage as well as probing would).
    info = probe(data, filename=filename, decode=False)
    if info.type != "image":
        return data, info
    if info.format in _KEPT_IMAGE_FORMATS:
        return data, probe(data, filename=filename)
    data = to_jpeg(data, quality=jpeg_quality, filename=filename)
    return data, probe(data, filename=filename)


def content_name(data: bytes, info: MediaInfo) -> str:
    """A content-addressed file name: the same bytes always get the same name."""
    digest = hashlib.sha256(data).hexdigest()[:32]
    return digest + _EXTENSIONS.get(info.mime, "")


