"""Media: what a file is (by its bytes, never its name), JPEG conversion, and the stores.

Instagram fetches media from a public URL, so every upload ends up in a store that hands
back one: a local folder Herald serves at ``/media/`` (the default) or an S3-compatible
bucket, optionally behind a CDN. Stores are synchronous (Pillow and boto3 are); async code
calls them through :func:`save_async`, which runs them in a thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

# Pillow is imported by the functions that decode: a worker never does, and the import
# is about 3.5 MB of a process's resident memory (bench/idle.py reads a worker's).
if TYPE_CHECKING:
    from PIL import Image

#: The general cap on one upload. LinkedIn takes videos up to 500 MB, the largest file any
#: platform in our scope accepts; 512 MiB covers that with a little room. Per-platform
#: limits (Instagram images 8 MiB, reels 300 MB…) are checked by herald.validation.
DEFAULT_MAX_UPLOAD_BYTES = 512 * 1024 * 1024

#: Pillow's own decompression-bomb threshold (its MAX_IMAGE_PIXELS, about 89 megapixels). A
#: few kilobytes of PNG can claim a huge canvas; we refuse before decoding so one upload
#: cannot eat the memory.
DEFAULT_MAX_IMAGE_PIXELS = 1024 * 1024 * 1024 // 4 // 3

DEFAULT_JPEG_QUALITY = 90

# Only these Pillow parsers ever see user bytes: the formats people actually post, and
# fewer exotic decoders exposed to hostile files.
_IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF")
# Kept byte for byte: every platform takes JPEG, and converting a GIF would lose animation.
_KEPT_IMAGE_FORMATS = frozenset({"JPEG", "GIF"})

# ISO media (the ftyp box) also wraps HEIF/AVIF stills and M4A audio; the major brand tells.
_STILL_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"})
_AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P "})

_EXTENSIONS = {
    "image/jpeg": ".jpg", "image/gif": ".gif", "image/png": ".png", "image/webp": ".webp",
    "video/mp4": ".mp4", "video/quicktime": ".mov", "video/3gpp": ".3gp",
    "application/pdf": ".pdf",
}

RECOGNISED = "JPEG, PNG, GIF, WebP, BMP, TIFF or AVIF images, MP4 or MOV videos, PDF documents"


class MediaError(ValueError):
    """This file cannot be used as media."""


class UnsupportedMediaError(MediaError):
    """This is not an image or video we recognise."""


class MediaTooLargeError(MediaError):
    """This file is larger than the media store accepts."""


class MediaStoreError(Exception):
    """The media store could not save the file."""


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


@dataclass(frozen=True)
class StoredMedia:
    """A file saved in a media store, with the public URL the platforms fetch it from."""

    url: str
    key: str  # the name inside the store
    type: str
    format: str
    mime: str
    size: int
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    faststart: bool | None = None

    @classmethod
    def from_info(cls, *, url: str, key: str, info: MediaInfo) -> StoredMedia:
        return cls(url=url, key=key, **asdict(info))

    @property
    def info(self) -> MediaInfo:
        fields = asdict(self)
        del fields["url"], fields["key"]
        return MediaInfo(**fields)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for a post's media list and the upload API's answer."""
        return asdict(self)


class MediaStore(Protocol):
    """Somewhere uploads are kept and served from a public URL."""

    def save(self, data: bytes, *, filename: str | None = None) -> StoredMedia: ...


async def save_async(store: MediaStore, data: bytes, *, filename: str | None = None) -> StoredMedia:
    """Save from async code: decoding, converting and uploading block, so use a thread."""
    return await asyncio.to_thread(store.save, data, filename=filename)


# --- probing ---------------------------------------------------------------------------


def probe(
    data: bytes,
    *,
    filename: str | None = None,
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
) -> MediaInfo:
    """Say what ``data`` is by its content; ``filename`` only makes error messages clearer."""
    if b"%PDF-" in data[:1024]:  # the PDF spec lets the header sit anywhere in the first 1 KiB
        return MediaInfo(type="document", format="PDF", mime="application/pdf", size=len(data))
    if data[4:8] == b"ftyp" and data[8:12] not in _STILL_BRANDS:
        return _probe_iso_video(data, _name(filename))
    return _probe_image(data, _name(filename), max_image_pixels)


def _name(filename: str | None) -> str:
    return f"{filename!r}" if filename else "This file"


def _unrecognised(name: str) -> UnsupportedMediaError:
    return UnsupportedMediaError(
        f"{name} is not an image or video we recognise; Herald accepts {RECOGNISED}."
    )


def _probe_image(data: bytes, name: str, max_pixels: int) -> MediaInfo:
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data), formats=_IMAGE_FORMATS)
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise _unrecognised(name) from None
    with image:
        fmt = "JPEG" if image.format == "MPO" else str(image.format)
        width, height = image.size
        if width * height > max_pixels:
            raise MediaError(
                f"{name} is {width}x{height} pixels; Herald accepts images up to "
                f"{max_pixels / 1e6:.0f} megapixels."
            )
        try:
            # Decode it all now: a damaged file should fail at upload, not on the platform.
            image.load()
        except (OSError, SyntaxError, ValueError, struct.error) as exc:
            raise UnsupportedMediaError(
                f"{name} looks like an image but is damaged ({exc})."
            ) from None
        if _exif_orientation(image) in (5, 6, 7, 8):  # shown turned a quarter
            width, height = height, width
    mime = Image.MIME.get(fmt, f"image/{fmt.lower()}")
    return MediaInfo(type="image", format=fmt, mime=mime, size=len(data), width=width,
                     height=height)


def _exif_orientation(image: Image.Image) -> int:
    from PIL import ExifTags

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
    if b"moov" not in kinds:
        raise UnsupportedMediaError(
            f"{name} is not a complete MP4 or MOV video (its index, the moov box, is missing)."
        )
    _, moov_start, moov_end = top[kinds.index(b"moov")]
    size = _video_track_size(data, moov_start, moov_end)
    if size is None:
        raise UnsupportedMediaError(f"{name} has no video track; Herald posts images and videos.")
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


# --- preparing an upload ---------------------------------------------------------------


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


def human_size(size: int) -> str:
    """1536 -> "1.5 KiB": binary units, as the platforms' own messages use."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


def content_name(data: bytes, info: MediaInfo) -> str:
    """A content-addressed file name: the same bytes always get the same name."""
    digest = hashlib.sha256(data).hexdigest()[:32]
    return digest + _EXTENSIONS.get(info.mime, "")


# --- stores ----------------------------------------------------------------------------


class LocalMediaStore:
    """Files in a local folder, served by Herald itself at ``{public_base_url}/media/``."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        public_base_url: str,
        *,
        max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        jpeg_quality: int = DEFAULT_JPEG_QUALITY,
    ) -> None:
        self.directory = Path(directory)
        self.public_base_url = public_base_url.rstrip("/")
        self.max_bytes = max_bytes
        self.jpeg_quality = jpeg_quality

    def save(self, data: bytes, *, filename: str | None = None) -> StoredMedia:
        body, info = prepare_upload(
            data, filename=filename, max_bytes=self.max_bytes, jpeg_quality=self.jpeg_quality
        )
        name = content_name(body, info)
        path = self.directory / name
        if not path.exists():  # same name, same bytes: nothing to write
            try:
                _write_atomically(path, body)
            except OSError as exc:
                raise MediaStoreError(f"Could not save {name} in {self.directory}: {exc}") from exc
        return StoredMedia.from_info(url=f"{self.public_base_url}/media/{name}", key=name,
                                     info=info)

    def path(self, name: str) -> Path:
        """Where a saved file lives (for serving and clean-up)."""
        return self.directory / Path(name).name


def _write_atomically(path: Path, body: bytes) -> None:
    # Write beside the target, then rename: a reader (or Instagram's fetcher) never sees
    # half a file, and two uploads of the same bytes at once both end with the full file.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes 0600; a web server in front of the folder must be able to read it.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class S3MediaStore:
    """Files in an S3-compatible bucket; public URLs from the CDN base if given."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        cdn_base_url: str | None = None,
        prefix: str = "",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        acl: str | None = None,
        max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        jpeg_quality: int = DEFAULT_JPEG_QUALITY,
    ) -> None:
        # Imported here: boto3 takes a noticeable time to import and the default store is local.
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]

        self.bucket = bucket
        self.endpoint_url = endpoint_url.rstrip("/") if endpoint_url else None
        self.region = region
        self.cdn_base_url = cdn_base_url.rstrip("/") if cdn_base_url else None
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        # Buckets made since 2023 refuse ACLs by default; public read usually comes from a
        # bucket policy or the CDN, so an ACL is only sent when asked for.
        self.acl = acl
        self.max_bytes = max_bytes
        self.jpeg_quality = jpeg_quality
        # MinIO, Garage and most other S3-compatible servers want path-style addressing.
        addressing = "path" if endpoint_url else "auto"
        # boto3 clients (unlike resources) are thread-safe, so one serves every save.
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(s3={"addressing_style": addressing}, retries={"mode": "standard"}),
        )

    def save(self, data: bytes, *, filename: str | None = None) -> StoredMedia:
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

        body, info = prepare_upload(
            data, filename=filename, max_bytes=self.max_bytes, jpeg_quality=self.jpeg_quality
        )
        key = self.prefix + content_name(body, info)
        extra = {"ACL": self.acl} if self.acl else {}
        try:
            self._client.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType=info.mime,
                # Content-addressed keys never change meaning, so caches may keep them forever.
                CacheControl="public, max-age=31536000, immutable", **extra,
            )
        except (BotoCoreError, ClientError) as exc:
            raise MediaStoreError(f"Could not save {key} to bucket {self.bucket!r}: {exc}") from exc
        return StoredMedia.from_info(url=self.public_url(key), key=key, info=info)

    def public_url(self, key: str) -> str:
        """The URL platforms fetch ``key`` from."""
        path = quote(key)
        if self.cdn_base_url:
            return f"{self.cdn_base_url}/{path}"
        if self.endpoint_url:
            return f"{self.endpoint_url}/{self.bucket}/{path}"
        host = f"s3.{self.region}.amazonaws.com" if self.region else "s3.amazonaws.com"
        if "." in self.bucket:  # a dotted bucket name breaks the *.s3 TLS certificate
            return f"https://{host}/{self.bucket}/{path}"
        return f"https://{self.bucket}.{host}/{path}"
