"""What a media file is, by its bytes (never its name): images, MP4 and MOV videos, PDFs."""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

# Pillow is imported by the functions that decode: a worker never does, and the import
# is about 3.5 MB of a process's resident memory (bench/idle.py reads a worker's).
if TYPE_CHECKING:
    from PIL import Image

from herald.media.decoding import MAX_IMAGE_PIXELS, gate, pillow

#: The general cap on one upload. LinkedIn takes videos up to 500 MB, the largest file any
#: platform in our scope accepts; 512 MiB covers that with a little room. Per-platform
#: limits (Instagram images 8 MiB, reels 300 MB…) are checked by herald.validation.
DEFAULT_MAX_UPLOAD_BYTES = 512 * 1024 * 1024

#: The most pixels an image may have (LinkedIn's maximum; see herald.media.decoding). A few
#: hundred kilobytes of PNG can claim a huge canvas: the size is read from the header and
#: refused before a single pixel is decoded.
DEFAULT_MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

# Only these Pillow parsers ever see user bytes: the formats people actually post, and
# fewer exotic decoders exposed to hostile files.
_IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF")
# ISO media (the ftyp box) also wraps HEIF/AVIF stills and M4A audio; the major brand tells.
_STILL_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"})
_AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P "})

_PDF_VERSION = re.compile(rb"%PDF-[12]\.\d")
_PDF_STARTXREF = re.compile(rb"startxref\s+\d+\s")

RECOGNISED = "JPEG, PNG, GIF, WebP, BMP, TIFF or AVIF images, MP4 or MOV videos, PDF documents"


class MediaError(ValueError):
    """This file cannot be used as media."""


class UnsupportedMediaError(MediaError):
    """This is not an image or video we recognise."""


class MediaTooLargeError(MediaError):
    """This file is larger than the media store accepts."""


@dataclass(frozen=True)
class MediaInfo:
    """What probing found in a file's bytes."""

    type: str  # "image" | "video" | "document"
    format: str  # JPEG, PNG, GIF, WEBP, MP4, MOV, 3GP, PDF…
    mime: str
    size: int
    width: int | None = None  # as displayed: EXIF orientation / track rotation applied
    height: int | None = None
    duration: float | None = None  # seconds, videos only
    #: Videos: the index (moov box) comes before the data, as Instagram requires.
    faststart: bool | None = None



# --- probing ---------------------------------------------------------------------------


def probe(
    data: bytes,
    *,
    filename: str | None = None,
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    decode: bool = True,
) -> MediaInfo:
    """Say what ``data`` is by its content; ``filename`` only makes error messages clearer.

    Images are decoded to find damage unless ``decode`` is false (the caller decodes them
    anyway, to convert them); their size is checked first, from the header.
    """
    if data.startswith(b"%PDF-"):
        return _probe_pdf(data, _name(filename))
    if data[4:8] == b"ftyp" and data[8:12] not in _STILL_BRANDS:
        return _probe_iso_video(data, _name(filename))
    return _probe_image(data, _name(filename), max_image_pixels, decode=decode)


def _probe_pdf(data: bytes, name: str) -> MediaInfo:
    # Readers find a PDF's objects from its end: `startxref`, the table's offset, and
    # `%%EOF` in the last 1 KiB. Bytes that merely contain "%PDF-" have neither; the
    # header goes first (the spec's leeway of 1 KiB for junk before it is not needed by
    # any file a platform takes, and let anything with "%PDF-" inside pass as one).
    tail = data[-1024:]
    if (_PDF_VERSION.match(data) is None or _PDF_STARTXREF.search(tail) is None
            or b"%%EOF" not in tail):
        raise UnsupportedMediaError(
            f"{name} starts like a PDF but is not a complete one (a PDF ends with its "
            "cross-reference offset and %%EOF); export or save it as PDF again."
        )
    return MediaInfo(type="document", format="PDF", mime="application/pdf", size=len(data))


def _name(filename: str | None) -> str:
    return f"{filename!r}" if filename else "This file"


def _unrecognised(name: str) -> UnsupportedMediaError:
    return UnsupportedMediaError(
        f"{name} is not an image or video we recognise; Herald accepts {RECOGNISED}."
    )


def _probe_image(data: bytes, name: str, max_pixels: int, *, decode: bool) -> MediaInfo:
    Image = pillow()
    from PIL import UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data), formats=_IMAGE_FORMATS)
    except UnidentifiedImageError:
        raise _unrecognised(name) from None
    except Image.DecompressionBombError:  # over twice the cap: Pillow read the header only
        raise _too_many_pixels(name, header_size(data), max_pixels) from None
    with image:
        fmt = "JPEG" if image.format == "MPO" else str(image.format)
        width, height = image.size
        if width * height > max_pixels:
            raise _too_many_pixels(name, (width, height), max_pixels)
        if decode:
            _check_decodes(image, name)
        if _exif_orientation(image, decoded=decode) in (5, 6, 7, 8):  # turned a quarter
            width, height = height, width
    mime = Image.MIME.get(fmt, f"image/{fmt.lower()}")
    return MediaInfo(type="image", format=fmt, mime=mime, size=len(data), width=width,
                     height=height)


def _check_decodes(image: Image.Image, name: str) -> None:
    """Decode it all now: a damaged file should fail at upload, not on the platform."""
    if image.format in ("JPEG", "MPO"):
        # Decoding at an eighth of the size reads every byte of the stream (so damage still
        # shows) into 1/64 of the memory.
        image.draft(image.mode, (image.width // 8, image.height // 8))
    try:
        with gate().slot():
            image.load()
    except (OSError, SyntaxError, ValueError, struct.error) as exc:
        raise UnsupportedMediaError(f"{name} looks like an image but is damaged ({exc}).") from None


def header_size(data: bytes) -> tuple[int, int] | None:
    """An image's width and height from its header alone, whatever its size."""
    Image = pillow()
    # Image.open refuses huge sizes before saying what they are; the format's own parser
    # (what Image.open calls) reads just the header and allocates no pixels.
    for fmt in _IMAGE_FORMATS:
        factory, accept = Image.OPEN.get(fmt, (None, None))
        if factory is None or (accept is not None and not accept(data[:16])):
            continue
        try:
            with factory(io.BytesIO(data)) as image:
                return tuple(image.size)
        except Exception:  # not this format after all: try the next one
            continue
    return None


def _too_many_pixels(name: str, size: tuple[int, int] | None, max_pixels: int) -> MediaError:
    found = f"{size[0]}x{size[1]} pixels ({size[0] * size[1] / 1e6:.1f} megapixels)" if size \
        else "larger than that"
    return MediaError(
        f"{name} is {found}; Herald accepts images up to {max_pixels / 1e6:.1f} megapixels "
        f"({max_pixels:,} pixels, e.g. 6000x6000), the most any platform takes. Scale it "
        "down and upload it again."
    )


def _exif_orientation(image: Image.Image, *, decoded: bool = True) -> int:
    from PIL import ExifTags

    if not decoded and image.format == "PNG" and "exif" not in image.info:
        # Pillow decodes a whole PNG to look for an eXIf chunk after the pixels, outside
        # the decode gate. Header only, such a rare PNG reads as upright: its conversion
        # applies the orientation, and the JPEG's probe gives the size as shown.
        return 1
    try:
        return int(image.getexif().get(ExifTags.Base.Orientation, 1))
    except Exception:  # a broken EXIF block should not make a good picture unusable
        return 1


# --- MP4 / MOV: just enough of ISO/IEC 14496-12 to read size, length and layout ----------


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """Yield (type, payload start, box end) of the boxes between start and end."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1 and pos + 16 <= end:  # 64-bit size follows the type
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:  # "extends to the end of the file"
            size = end - pos
        if size < header or pos + size > end:
            return  # truncated or garbage: stop rather than guess
        yield kind, pos + header, pos + size
        pos += size


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for box, payload, box_end in _boxes(data, start, end):
        if box == kind:
            return payload, box_end
    return None


def _probe_iso_video(data: bytes, name: str) -> MediaInfo:
    brand = data[8:12]
    if brand in _AUDIO_BRANDS:
        raise UnsupportedMediaError(f"{name} is an audio file; Herald posts images and videos.")
    top = list(_boxes(data, 0, len(data)))
    kinds = [kind for kind, _, _ in top]
    if not top or kinds[0] != b"ftyp" or top[0][2] - top[0][1] < 8:  # brand and version
        raise UnsupportedMediaError(
            f"{name} is not an MP4 or MOV video (its first box, ftyp, is damaged).")
    if b"moov" not in kinds:
        raise UnsupportedMediaError(
            f"{name} is not a complete MP4 or MOV video (its index, the moov box, is missing)."
        )
    _, moov_start, moov_end = top[kinds.index(b"moov")]
    size = _video_track_size(data, moov_start, moov_end)
    if size is None:
        raise UnsupportedMediaError(f"{name} has no video track; Herald posts images and videos.")
    if not all(size):
        raise UnsupportedMediaError(
            f"{name} is not a playable video: its video track has no picture size "
            f"({size[0]}x{size[1]}); export it again.")
    fmt, mime = _container_format(brand)
    first_mdat = kinds.index(b"mdat") if b"mdat" in kinds else len(kinds)
    return MediaInfo(
        type="video", format=fmt, mime=mime, size=len(data), width=size[0], height=size[1],
        duration=_movie_duration(data, moov_start, moov_end),
        faststart=kinds.index(b"moov") < first_mdat,
    )


def _container_format(brand: bytes) -> tuple[str, str]:
    if brand == b"qt  ":
        return "MOV", "video/quicktime"
    if brand.startswith(b"3g"):
        return "3GP", "video/3gpp"
    return "MP4", "video/mp4"


def _movie_duration(data: bytes, start: int, end: int) -> float | None:
    mvhd = _child(data, start, end, b"mvhd")
    if mvhd is None or mvhd[1] - mvhd[0] < 32:
        return None
    pos = mvhd[0]
    if data[pos] == 1:  # version 1: 64-bit times
        timescale, duration = struct.unpack_from(">IQ", data, pos + 20)
    else:
        timescale, duration = struct.unpack_from(">II", data, pos + 12)
    # Fragmented files may leave the duration 0 or all ones ("unknown").
    if not timescale or duration in (0, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
        return None
    return float(duration / timescale)


def _video_track_size(data: bytes, start: int, end: int) -> tuple[int, int] | None:
    """Width and height of the first video track as displayed, or None without one."""
    for kind, trak_start, trak_end in _boxes(data, start, end):
        if kind != b"trak" or not _is_video_track(data, trak_start, trak_end):
            continue
        tkhd = _child(data, trak_start, trak_end, b"tkhd")
        if tkhd is None or tkhd[1] - tkhd[0] < 84:
            return (0, 0)
        payload, box_end = tkhd
        width, height = (v >> 16 for v in struct.unpack_from(">II", data, box_end - 8))
        # Phones record portrait video as landscape plus a 90° rotation in the matrix.
        matrix = payload + (52 if data[payload] == 1 else 40)
        matrix_a, matrix_b = struct.unpack_from(">ii", data, matrix)
        if matrix_a == 0 and matrix_b != 0:
            width, height = height, width
        return (width, height)
    return None


def _is_video_track(data: bytes, start: int, end: int) -> bool:
    mdia = _child(data, start, end, b"mdia")
    hdlr = _child(data, *mdia, b"hdlr") if mdia else None
    return hdlr is not None and data[hdlr[0] + 8 : hdlr[0] + 12] == b"vide"


def human_size(size: int) -> str:
    """1536 -> "1.5 KiB": binary units, as the platforms' own messages use."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


