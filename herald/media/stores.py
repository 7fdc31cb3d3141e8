"""Media stores: where uploads are kept, and the public URL each is served from.

Instagram fetches media from a public URL, so every upload ends up in a store that hands
back one: a local folder Herald serves at ``/media/`` (the default) or an S3-compatible
bucket, optionally behind a CDN. Stores are synchronous (Pillow and boto3 are); async code
calls them through :func:`save_async`, which runs them in a thread.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import quote

from herald.config import ConfigError, Settings
from herald.media.prepare import DEFAULT_JPEG_QUALITY, content_name, prepare_upload
from herald.media.probing import DEFAULT_MAX_UPLOAD_BYTES, MediaInfo
from herald.media.spooled import kept_as_is, streamed_name

#: Copying a file into the store, this much at a time.
CHUNK = 1024 * 1024


class MediaStoreError(Exception):
    """The media store could not save the file."""


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

    def save_file(self, file: IO[bytes], *, filename: str | None = None) -> StoredMedia:
        """Save an upload kept in a file, without reading a large video or PDF into memory."""
        ...


async def save_async(store: MediaStore, data: bytes, *, filename: str | None = None) -> StoredMedia:
    """Save from async code: decoding, converting and uploading block, so use a thread."""
    return await asyncio.to_thread(store.save, data, filename=filename)


async def save_file_async(store: MediaStore, file: IO[bytes], *,
                          filename: str | None = None) -> StoredMedia:
    return await asyncio.to_thread(store.save_file, file, filename=filename)


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

    def save_file(self, file: IO[bytes], *, filename: str | None = None) -> StoredMedia:
        info = kept_as_is(file, filename=filename, max_bytes=self.max_bytes)
        if info is None:
            return self.save(file.read(), filename=filename)
        name = streamed_name(file, info)
        path = self.directory / name
        if not path.exists():
            try:
                _write_atomically(path, file)
            except OSError as exc:
                raise MediaStoreError(f"Could not save {name} in {self.directory}: {exc}") from exc
        return StoredMedia.from_info(url=f"{self.public_base_url}/media/{name}", key=name,
                                     info=info)

    def path(self, name: str) -> Path:
        """Where a saved file lives (for serving and clean-up)."""
        return self.directory / Path(name).name


def _write_atomically(path: Path, body: bytes | IO[bytes]) -> None:
    # Write beside the target, then rename: a reader (or Instagram's fetcher) never sees
    # half a file, and two uploads of the same bytes at once both end with the full file.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(body, bytes):
                f.write(body)
            else:
                shutil.copyfileobj(body, f, CHUNK)
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
        try:
            self._client.put_object(Bucket=self.bucket, Key=key, Body=body, **self._extra(info))
        except (BotoCoreError, ClientError) as exc:
            raise MediaStoreError(f"Could not save {key} to bucket {self.bucket!r}: {exc}") from exc
        return StoredMedia.from_info(url=self.public_url(key), key=key, info=info)

    def save_file(self, file: IO[bytes], *, filename: str | None = None) -> StoredMedia:
        from botocore.exceptions import BotoCoreError, ClientError

        info = kept_as_is(file, filename=filename, max_bytes=self.max_bytes)
        if info is None:
            return self.save(file.read(), filename=filename)
        key = self.prefix + streamed_name(file, info)
        try:
            # upload_fileobj sends it in parts read from the file (multipart when large).
            self._client.upload_fileobj(file, self.bucket, key, ExtraArgs=self._extra(info))
        except (BotoCoreError, ClientError) as exc:
            raise MediaStoreError(f"Could not save {key} to bucket {self.bucket!r}: {exc}") from exc
        return StoredMedia.from_info(url=self.public_url(key), key=key, info=info)

    def _extra(self, info: MediaInfo) -> dict[str, str]:
        # Content-addressed keys never change meaning, so caches may keep them forever.
        extra = {"ContentType": info.mime, "CacheControl": "public, max-age=31536000, immutable"}
        if self.acl:
            extra["ACL"] = self.acl
        return extra

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


def build_store(settings: Settings) -> MediaStore:
    """The store the settings name: S3 (or compatible) or the local folder."""
    if settings.media_store == "s3":
        if not settings.s3_bucket:
            raise ConfigError("HERALD_MEDIA_STORE=s3 needs HERALD_S3_BUCKET")
        secret = settings.s3_secret_access_key
        return S3MediaStore(
            settings.s3_bucket, endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region, cdn_base_url=settings.media_cdn_url,
            prefix=settings.s3_prefix, access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
            acl=settings.s3_acl, max_bytes=settings.media_max_upload_bytes,
            jpeg_quality=settings.media_jpeg_quality,
        )
    return LocalMediaStore(settings.media_dir, settings.public_url,
                           max_bytes=settings.media_max_upload_bytes,
                           jpeg_quality=settings.media_jpeg_quality)
