"""Real media files made in memory: images by Pillow, minimal MP4s box by box."""

from __future__ import annotations

import io
import os
import struct
from typing import Any

from PIL import Image


def image_bytes(
    fmt: str = "JPEG",
    size: tuple[int, int] = (1080, 1080),
    *,
    mode: str = "RGB",
    color: Any = (200, 80, 40),
    noise: bool = False,
    orientation: int | None = None,
    **save: Any,
) -> bytes:
    if noise:  # random pixels defeat compression: the quickest way to a big file
        image = Image.frombytes(mode, size, os.urandom(size[0] * size[1] * len(mode)))
    else:
        image = Image.new(mode, size, color)
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        save["exif"] = exif.tobytes()
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4_bytes(
    *,
    width: int = 1080,
    height: int = 1920,
    seconds: float = 10.0,
    brand: bytes = b"isom",
    faststart: bool = True,
    handler: bytes = b"vide",
    rotated: bool = False,
    data_bytes: int = 1000,
) -> bytes:
    """A minimal ISO media file: ftyp, moov (mvhd, one trak) and mdat, no real frames."""
    timescale = 1000
    mvhd = struct.pack(">B3xIIII", 0, 0, 0, timescale, int(seconds * timescale)) + bytes(80)
    one, zero = 0x10000, 0
    a, b, c, d = (zero, one, -one, zero) if rotated else (one, zero, zero, one)
    matrix = struct.pack(">iiiiiiiii", a, b, 0, c, d, 0, 0, 0, 0x40000000)
    tkhd = (struct.pack(">B3xIIIII", 0, 0, 0, 1, 0, 0) + bytes(16) + matrix
            + struct.pack(">II", width << 16, height << 16))
    hdlr = bytes(8) + handler + bytes(12) + b"Handler\0"
    trak = box(b"trak", box(b"tkhd", tkhd) + box(b"mdia", box(b"hdlr", hdlr)))
    moov = box(b"moov", box(b"mvhd", mvhd) + trak)
    mdat = box(b"mdat", bytes(data_bytes))
    ftyp = box(b"ftyp", brand + bytes(4) + b"isomiso2mp41")
    return ftyp + (moov + mdat if faststart else mdat + moov)




def pdf_bytes() -> bytes:
    """A minimal complete PDF: one empty page, its cross-reference table and trailer."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def flat_png(width: int, height: int) -> bytes:
    """A transparent RGBA PNG of any size, written row by row: an 8000x11000 one is the
    attacker's 342 KB file, made without the 350 MB of pixels Pillow would need."""
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    packer = zlib.compressobj(9)
    row = bytes(1 + 4 * width)  # filter byte 0, then transparent black pixels
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))
