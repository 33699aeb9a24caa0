"""The app's icons (a cylinder with a tick on the bureau's blue), drawn as PNG in pure Python.

Drawn rather than kept as binary files: the registry has no imaging library among its
dependencies, the picture is a few shapes, and a test can check the bytes are a valid PNG of the
size the manifest says. Each size is drawn once per process (well under a second for 512 px).
"""

from __future__ import annotations

import struct
import zlib
from functools import lru_cache
from typing import Final

SIZES: Final = (192, 512)
BLUE: Final = (21, 82, 153)
WHITE: Final = (255, 255, 255)
GREEN: Final = (30, 140, 70)
SAMPLES: Final = 3  # per axis, for smooth edges


def _inside_cylinder(x: float, y: float, maskable: bool) -> bool:
    # Coordinates in 0..1. A maskable icon keeps its drawing in the middle 80 % (the safe zone).
    scale = 0.7 if maskable else 0.9
    x, y = (x - 0.5) / scale + 0.5, (y - 0.5) / scale + 0.5
    left, right, top, bottom = 0.34, 0.66, 0.22, 0.86
    radius = (right - left) / 2
    centre = (left + right) / 2
    if left <= x <= right and top + radius <= y <= bottom:
        return True
    if (x - centre) ** 2 + (y - top - radius) ** 2 <= radius**2:  # the dome
        return True
    return abs(x - centre) <= 0.05 and top - 0.08 <= y <= top + 0.02  # the valve


def _on_tick(x: float, y: float, maskable: bool) -> bool:
    scale = 0.7 if maskable else 0.9
    x, y = (x - 0.5) / scale + 0.5, (y - 0.5) / scale + 0.5
    width = 0.045

    def near(ax: float, ay: float, bx: float, by: float) -> bool:
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
        return (x - ax - t * dx) ** 2 + (y - ay - t * dy) ** 2 <= width**2

    return near(0.40, 0.58, 0.48, 0.68) or near(0.48, 0.68, 0.62, 0.46)


def _colour(x: float, y: float, maskable: bool) -> tuple[int, int, int]:
    return GREEN if _on_tick(x, y, maskable) else WHITE if _inside_cylinder(x, y, maskable) else BLUE


@lru_cache(maxsize=4)
def icon_png(size: int, maskable: bool = False) -> bytes:
    """A square RGB PNG of `size` pixels (one of SIZES)."""
    if size not in SIZES:
        raise ValueError(f"icons come in {SIZES} px, not {size}")
    # The colour at every pixel corner; a pixel whose four corners agree is that colour, only the
    # pixels on an edge are supersampled.
    low, high = int(size * 0.1), int(size * 0.95) + 1  # the drawing's box: outside it all is blue
    corners = {(cx, cy): _colour(cx / size, cy / size, maskable) for cy in range(low, high + 1) for cx in range(low, high + 1)}
    rows = bytearray()
    for py in range(size):
        rows.append(0)  # filter type 0 (none) for each scanline
        for px in range(size):
            if not (low <= px < high and low <= py < high):
                rows.extend(BLUE)
                continue
            four = {corners[(px, py)], corners[(px + 1, py)], corners[(px, py + 1)], corners[(px + 1, py + 1)]}
            rows.extend(four.pop() if len(four) == 1 else _supersampled(px, py, size, maskable))
    return _png(size, size, bytes(rows))


def _supersampled(px: int, py: int, size: int, maskable: bool) -> tuple[int, int, int]:
    total = [0, 0, 0]
    for sy in range(SAMPLES):
        for sx in range(SAMPLES):
            colour = _colour((px + (sx + 0.5) / SAMPLES) / size, (py + (sy + 0.5) / SAMPLES) / size, maskable)
            for i in range(3):
                total[i] += colour[i]
    n = SAMPLES * SAMPLES
    return (total[0] // n, total[1] // n, total[2] // n)


def _png(width: int, height: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
