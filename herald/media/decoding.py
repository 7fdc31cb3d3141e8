"""How many images a process decodes at once, and Pillow set up with Herald's pixel cap.

A decoded image costs its pixels, not its file: a 6000x6000 PNG of a few hundred kilobytes
takes about 250 MB while it is converted. Uploads arrive in parallel (every request runs in
its own thread), so without a bound sixteen of them multiply that by sixteen; with one,
they queue and the peak stays at the limit's worth.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType

#: Images decoded at once per process by default. A fixed number rather than the core
#: count: what it bounds is memory (about 250 MB per worst-case image), which does not grow
#: with the cores.
DEFAULT_MAX_CONCURRENT_DECODES = 2

#: The most pixels of an image Herald decodes: LinkedIn's documented maximum (36,152,320),
#: the largest any platform in our scope takes. Instagram keeps at most 1440 pixels of width
#: and Facebook about 2048 on the longest side, so more pixels than this would only ever be
#: thrown away by the platform, after costing memory here.
MAX_IMAGE_PIXELS = 36_152_320


#: Pillow allocates pixels in blocks of 16 MB by default: below glibc's largest mmap
#: threshold (32 MB), so once freed they stay in the threads' malloc arenas and the process
#: keeps the memory of every decode it ever ran at once (16 uploads of the worst image: 1.7 GB
#: peak with 2 decodes at a time). Larger blocks are mapped and unmapped whole (0.8 GB).
#: Pillow's documented block allocator setting (PILLOW_BLOCK_SIZE), set from code.
_PILLOW_BLOCK_SIZE = 64 * 1024 * 1024


class DecodeGate:
    """A counting semaphore for decodes, which also says how many run and wait (for tests)."""

    def __init__(self, limit: int = DEFAULT_MAX_CONCURRENT_DECODES) -> None:
        if limit < 1:
            raise ValueError(f"at least one decode must be allowed, not {limit}")
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self.waiting = 0
        self.in_flight = 0
        self.peak = 0
        self.started = 0
        #: Called with a slot held, before decoding: lets a test hold decodes in flight.
        self.on_decode: Callable[[], None] | None = None

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the slots while decoding; wait for one if all are taken."""
        with self._lock:
            self.waiting += 1
        self._slots.acquire()
        with self._lock:
            self.waiting -= 1
            self.in_flight += 1
            self.started += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            if self.on_decode is not None:
                self.on_decode()
            yield
        finally:
            with self._lock:
                self.in_flight -= 1
            self._slots.release()


_gate = DecodeGate()


def gate() -> DecodeGate:
    """This process's decode gate."""
    return _gate


def set_decode_limit(limit: int) -> DecodeGate:
    """Replace the gate with one of `limit` slots (at start-up, from the settings)."""
    global _gate
    if limit != _gate.limit:
        _gate = DecodeGate(limit)
    return _gate


def pillow() -> ModuleType:
    """`PIL.Image`, with its decompression-bomb limit set to Herald's cap and large blocks.

    Pillow warns above its MAX_IMAGE_PIXELS and refuses at twice that while reading the
    header; Herald refuses anything above the cap itself (with the size in the message), so
    the warning says nothing new and the refusal is the backstop for any other decode.
    """
    import warnings

    from PIL import Image
    from PIL import _imaging as core  # what Image.core is: Pillow's C module

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    if core.get_block_size() < _PILLOW_BLOCK_SIZE:
        core.set_block_size(_PILLOW_BLOCK_SIZE)
    # Every time: a filter already there is moved, not repeated, and tests reset filters.
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    return Image
