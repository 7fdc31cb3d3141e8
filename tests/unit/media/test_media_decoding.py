"""Image uploads cost bounded memory: the size is checked from the header before any decode,
and decodes beyond the limit queue (issue 13, #2)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from PIL import Image

from herald.media import MediaError, prepare_upload, probe
from herald.media.decoding import MAX_IMAGE_PIXELS, DecodeGate, gate, set_decode_limit
from tests.media_files import flat_png, image_bytes


@pytest.fixture
def decodes() -> Iterator[DecodeGate]:
    """A fresh gate of two slots for the test, the process's own one put back after."""
    before = gate().limit
    set_decode_limit(before + 1)  # a new gate: its counters start at zero
    fresh = set_decode_limit(2)
    yield fresh
    fresh.on_decode = None
    set_decode_limit(before + 1)
    set_decode_limit(before)


def test_the_attackers_png_is_refused_from_its_header_before_any_decode(decodes):
    # The file: 342 KB that claim 8000x11000 RGBA pixels (350 MB decoded).
    bomb = flat_png(8000, 11000)
    assert len(bomb) < 400_000
    with pytest.raises(MediaError) as refused:
        prepare_upload(bomb, filename="poster.png")
    message = str(refused.value)
    assert "8000x11000" in message and "36.2 megapixels" in message, message
    assert decodes.started == 0  # refused without taking a decode slot: nothing decoded


def test_an_image_between_the_cap_and_pillows_own_limit_is_refused_by_its_size(decodes):
    # 42 MP: under twice Pillow's limit, so Pillow opens it; Herald's own check refuses it.
    with pytest.raises(MediaError, match=r"7000x6000 pixels \(42\.0 megapixels\)"):
        prepare_upload(flat_png(7000, 6000), filename="wide.png")
    assert decodes.started == 0


def test_pillows_limit_is_herald_cap(make_image):
    probe(make_image("PNG", (10, 10)))
    assert Image.MAX_IMAGE_PIXELS == MAX_IMAGE_PIXELS == 36_152_320


def test_an_image_just_within_a_cap_is_converted():
    _, info = prepare_upload(flat_png(1000, 1000))
    assert (info.format, info.width, info.height) == ("JPEG", 1000, 1000)
    with pytest.raises(MediaError, match="1000x1001"):
        probe(flat_png(1000, 1001), max_image_pixels=1_000_000)


def test_decodes_beyond_the_limit_wait_for_a_slot(decodes):
    release = threading.Event()
    decodes.on_decode = release.wait  # each decode holds its slot until the test says
    png = image_bytes("PNG", (300, 300), mode="RGBA", color=(0, 120, 255, 128))
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(prepare_upload(png)[1].format))
               for _ in range(5)]
    for thread in threads:
        thread.start()
    give_up = time.monotonic() + 30  # a bound on the wait, not a measurement
    while decodes.in_flight + decodes.waiting < 5 and time.monotonic() < give_up:
        time.sleep(0.005)
    assert (decodes.in_flight, decodes.waiting) == (2, 3)
    release.set()
    for thread in threads:
        thread.join()
    assert results == ["JPEG"] * 5
    assert decodes.peak == 2 and decodes.started == 10  # a conversion, then its probe


def test_a_transparent_png_becomes_a_jpeg_on_white():
    png = image_bytes("PNG", (64, 48), mode="RGBA", color=(0, 0, 0, 0))
    data, info = prepare_upload(png, filename="logo.png")
    assert (info.format, info.mime, info.width, info.height) == ("JPEG", "image/jpeg", 64, 48)
    import io

    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == "RGB" and min(image.getpixel((10, 10))) > 250


def test_a_gate_has_at_least_one_slot():
    with pytest.raises(ValueError, match="at least one"):
        DecodeGate(0)


@pytest.mark.parametrize("fmt, mode", [("PNG", "RGBA"), ("PNG", "RGB"), ("JPEG", "RGB"),
                                       ("WEBP", "RGB"), ("GIF", "P"), ("TIFF", "RGB")])
def test_every_decode_holds_a_slot(decodes, monkeypatch, fmt, mode):
    # A PNG's EXIF lookup decoded the whole image outside the gate (found by the benchmark).
    from PIL import ImageFile

    loads: list[int] = []
    real_load = ImageFile.ImageFile.load

    def load(image: ImageFile.ImageFile) -> object:
        if image.tile:  # pixels still to decode
            loads.append(decodes.in_flight)
        return real_load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    color = (0, 120, 255, 128) if mode == "RGBA" else 3 if mode == "P" else (0, 120, 255)
    prepare_upload(image_bytes(fmt, (120, 80), mode=mode, color=color))
    assert loads and 0 not in loads, loads
