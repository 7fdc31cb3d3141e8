"""Probing by content, and turning stills into JPEG."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from herald.media import (
    MediaError,
    MediaTooLargeError,
    UnsupportedMediaError,
    prepare_upload,
    probe,
    to_jpeg,
)
from tests.media_files import box, pdf_bytes


def test_jpeg_is_probed_by_content(make_image):
    info = probe(make_image("JPEG", (1080, 1350)), filename="photo.png")
    assert (info.type, info.format, info.mime) == ("image", "JPEG", "image/jpeg")
    assert (info.width, info.height) == (1080, 1350)


@pytest.mark.parametrize(("fmt", "mime"), [("PNG", "image/png"), ("GIF", "image/gif"),
                                           ("WEBP", "image/webp")])
def test_other_stills_are_recognised(make_image, fmt, mime):
    info = probe(make_image(fmt, (40, 30)))
    assert (info.type, info.format, info.mime, info.width, info.height) == (
        "image", fmt, mime, 40, 30)


def test_text_file_named_jpg_is_refused():
    with pytest.raises(UnsupportedMediaError, match=r"'notes\.jpg' is not an image or video we"):
        probe(b"just some text, honestly\n" * 20, filename="notes.jpg")


def test_truncated_jpeg_is_called_damaged(make_image):
    data = make_image("JPEG", (600, 600), noise=True)
    with pytest.raises(UnsupportedMediaError, match="damaged"):
        probe(data[: len(data) // 2])


def test_exif_orientation_gives_displayed_size(make_image):
    # Stored landscape, shown portrait: Instagram judges the aspect ratio as shown.
    info = probe(make_image("JPEG", (400, 300), orientation=6))
    assert (info.width, info.height) == (300, 400)


def test_too_many_pixels_is_refused_before_decoding(make_image):
    with pytest.raises(MediaError, match="megapixels"):
        probe(make_image("PNG", (2000, 2000)), max_image_pixels=1_000_000)


def test_pdf_is_a_document():
    info = probe(pdf_bytes())
    assert (info.type, info.mime) == ("document", "application/pdf")


@pytest.mark.parametrize("data", [
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",  # no xref, no %%EOF
    b"%PDF-",
    b"%PDF-1.4\n" + bytes(4096) + b"%%EOF\n",  # an end, but no cross-reference offset
    b"%PDF-1.4\nstartxref\n9\n%%EOF\n" + bytes(4096),  # the end is not at the end
    b"%PDF-x.y\nstartxref\n9\n%%EOF\n",
])
def test_bytes_that_merely_start_like_a_pdf_are_refused(data):
    with pytest.raises(UnsupportedMediaError, match="not a complete one"):
        probe(data, filename="deck.pdf")


def test_pdf_header_inside_other_bytes_is_not_a_pdf():
    data = b"<html><script>alert(1)</script>%PDF-1.7\n" + pdf_bytes()[9:]
    with pytest.raises(UnsupportedMediaError, match="not an image or video we recognise"):
        probe(data)


def test_mp4_size_duration_and_layout(make_mp4):
    info = probe(make_mp4(width=1080, height=1920, seconds=12.5))
    assert (info.type, info.format, info.mime) == ("video", "MP4", "video/mp4")
    assert (info.width, info.height, info.duration, info.faststart) == (1080, 1920, 12.5, True)


def test_mov_by_brand_and_moov_at_the_end(make_mp4):
    info = probe(make_mp4(brand=b"qt  ", faststart=False), filename="clip.mp4")
    assert (info.format, info.mime, info.faststart) == ("MOV", "video/quicktime", False)


def test_rotated_phone_video_is_portrait(make_mp4):
    info = probe(make_mp4(width=1920, height=1080, rotated=True))
    assert (info.width, info.height) == (1080, 1920)


def test_audio_only_mp4_is_refused(make_mp4):
    with pytest.raises(UnsupportedMediaError, match="no video track"):
        probe(make_mp4(handler=b"soun"))
    with pytest.raises(UnsupportedMediaError, match="audio file"):
        probe(make_mp4(brand=b"M4A "))


def test_mp4_without_index_is_refused(make_mp4):
    data = make_mp4(faststart=False)
    with pytest.raises(UnsupportedMediaError, match="moov box"):
        probe(data[: len(data) - 40])


def test_a_video_track_without_picture_size_is_refused(make_mp4):
    for width, height in ((0, 0), (1080, 0)):
        with pytest.raises(UnsupportedMediaError, match="no picture size"):
            probe(make_mp4(width=width, height=height), filename="clip.mp4")


def test_bogus_boxes_are_not_a_video():
    hdlr = box(b"hdlr", bytes(8) + b"vide" + bytes(12))
    no_tkhd = box(b"moov", box(b"trak", box(b"mdia", hdlr)))
    ftyp = box(b"ftyp", b"isom" + bytes(4))
    with pytest.raises(UnsupportedMediaError, match="no picture size"):
        probe(ftyp + no_tkhd)
    short_tkhd = box(b"moov", box(b"trak", box(b"tkhd", bytes(20)) + box(b"mdia", hdlr)))
    with pytest.raises(UnsupportedMediaError, match="no picture size"):
        probe(ftyp + short_tkhd)
    # An ftyp with no room for its brand, then boxes that claim a video.
    with pytest.raises(UnsupportedMediaError, match="ftyp, is damaged"):
        probe(b"\x00\x00\x00\x0cftypisom" + no_tkhd)


def test_heic_brand_is_not_mistaken_for_video():
    fake_heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
    with pytest.raises(UnsupportedMediaError, match="not an image or video we recognise"):
        probe(fake_heic)


def test_png_becomes_jpeg_on_upload(make_image):
    data, info = prepare_upload(make_image("PNG", (500, 400)), filename="chart.png")
    assert data[:3] == b"\xff\xd8\xff"
    assert (info.format, info.mime, info.width, info.height) == ("JPEG", "image/jpeg", 500, 400)


@pytest.mark.parametrize("fmt", ["JPEG", "GIF"])
def test_jpeg_and_gif_are_kept_byte_for_byte(make_image, fmt):
    original = make_image(fmt, (64, 64))
    data, _ = prepare_upload(original)
    assert data == original


def test_webp_becomes_jpeg(make_image):
    _, info = prepare_upload(make_image("WEBP", (64, 48)))
    assert info.format == "JPEG"


def test_transparency_is_laid_on_white(make_image):
    jpeg = to_jpeg(make_image("PNG", (10, 10), mode="RGBA", color=(0, 0, 0, 0)))
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.mode == "RGB"
        pixel = image.getpixel((5, 5))
        assert isinstance(pixel, tuple)
        assert min(pixel) > 245  # white, not the black a plain convert gives


def test_exif_orientation_is_applied_when_converting(make_image):
    jpeg = to_jpeg(make_image("PNG", (200, 100), orientation=6))
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.size == (100, 200)
        assert 0x0112 not in image.getexif()


def test_sixteen_bit_grey_keeps_its_tone():
    grey = Image.new("I;16", (4, 4), 32768)  # half-way grey on 16 bits
    out = io.BytesIO()
    grey.save(out, "PNG")
    with Image.open(io.BytesIO(to_jpeg(out.getvalue()))) as image:
        pixel = image.getpixel((1, 1))
        assert isinstance(pixel, tuple)
        assert 120 <= pixel[0] <= 135


def test_upload_over_the_cap_is_refused(make_image):
    with pytest.raises(MediaTooLargeError, match="uploads are limited to 100 bytes"):
        prepare_upload(make_image("JPEG", (64, 64)), max_bytes=100)


def test_empty_upload_is_refused():
    with pytest.raises(UnsupportedMediaError, match="empty"):
        prepare_upload(b"", filename="x.jpg")
