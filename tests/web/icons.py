"""Draws the web app's icons (``app/web/static/icons/*.png``) with the standard library only:
a descending pain line on the app's teal. ``python -m tests.web.icons`` rewrites them;
the tests check the committed files are PNGs of the sizes the manifest names."""

from __future__ import annotations

import itertools
import math
import struct
import zlib
from pathlib import Path

ICONS = Path(__file__).resolve().parents[2] / "app" / "web" / "static" / "icons"
TEAL = (46, 94, 90)
WHITE = (255, 255, 255)
LINE = [(0.20, 0.36), (0.38, 0.50), (0.54, 0.44), (0.80, 0.68)]
STROKE = 0.075
DOT = 0.085
SAMPLES = 3  # supersampling per axis: smooth edges


def _segment_distance(x: float, y: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(x - ax - t * dx, y - ay - t * dy)


def _inside_rounded_square(x: float, y: float, radius: float) -> bool:
    cx = min(max(x, radius), 1 - radius)
    cy = min(max(y, radius), 1 - radius)
    return math.hypot(x - cx, y - cy) <= radius


def _pixel(x: float, y: float, maskable: bool) -> tuple[int, int, int, int]:
    if not maskable and not _inside_rounded_square(x, y, 0.22):
        return (0, 0, 0, 0)
    # A maskable icon keeps its drawing inside the central safe zone (80 %).
    scale = 0.8 if maskable else 1.0
    u, v = 0.5 + (x - 0.5) / scale, 0.5 + (y - 0.5) / scale
    on_line = min(_segment_distance(u, v, a, b) for a, b in itertools.pairwise(LINE)) <= STROKE / 2
    on_dot = math.hypot(u - LINE[-1][0], v - LINE[-1][1]) <= DOT
    return (*(WHITE if on_line or on_dot else TEAL), 255)


def draw(size: int, *, maskable: bool = False) -> bytes:
    """The PNG (RGBA, 8 bit) of the icon at ``size`` × ``size`` pixels."""
    rows = bytearray()
    for row in range(size):
        rows.append(0)  # filter: none
        for column in range(size):
            total = [0, 0, 0, 0]
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    x = (column + (sx + 0.5) / SAMPLES) / size
                    y = (row + (sy + 0.5) / SAMPLES) / size
                    for i, channel in enumerate(_pixel(x, y, maskable)):
                        total[i] += channel
            alpha = total[3]
            n = SAMPLES * SAMPLES
            if alpha:
                # Colour over the covered samples only: no dark fringe at the edges.
                rows.extend(round(total[i] * 255 / alpha) for i in range(3))
            else:
                rows.extend((0, 0, 0))
            rows.append(round(alpha / n))
    return _png(size, bytes(rows))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(size: int, raw: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


FILES = {
    "icon-192.png": (192, False),
    "icon-512.png": (512, False),
    "icon-maskable-512.png": (512, True),
}


def main() -> None:
    ICONS.mkdir(parents=True, exist_ok=True)
    for name, (size, maskable) in FILES.items():
        (ICONS / name).write_bytes(draw(size, maskable=maskable))


if __name__ == "__main__":
    main()
