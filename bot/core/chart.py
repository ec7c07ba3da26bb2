"""A small PNG line chart of training losses, drawn with the standard library (the bot has no matplotlib)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

WIDTH, HEIGHT, MARGIN = 640, 320, 40
WHITE, GREY, BLACK = (255, 255, 255), (220, 220, 220), (60, 60, 60)
COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44)]  # train, validation, more
# 3x5 digits for the axis labels.
_FONT = {
    "0": "111101101101111",
    "1": "010110010010111",
    "2": "111001111100111",
    "3": "111001111001111",
    "4": "101101111001001",
    "5": "111100111001111",
    "6": "111100111101111",
    "7": "111001010010010",
    "8": "111101111101111",
    "9": "111101111001111",
    ".": "000000000000010",
    "-": "000000111000000",
}

Point = tuple[float, float]


class _Canvas:
    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.pixels = bytearray(WHITE * (width * height))

    def dot(self, x: int, y: int, colour: tuple[int, int, int], size: int = 1) -> None:
        for dx in range(size):
            for dy in range(size):
                px, py = x + dx, y + dy
                if 0 <= px < self.width and 0 <= py < self.height:
                    i = 3 * (py * self.width + px)
                    self.pixels[i : i + 3] = bytes(colour)

    def line(self, x0: int, y0: int, x1: int, y1: int, colour: tuple[int, int, int], size: int = 1) -> None:
        steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        for s in range(steps + 1):
            self.dot(round(x0 + (x1 - x0) * s / steps), round(y0 + (y1 - y0) * s / steps), colour, size)

    def text(self, x: int, y: int, text: str, colour: tuple[int, int, int] = BLACK, scale: int = 2) -> None:
        for n, char in enumerate(text):
            glyph = _FONT.get(char)
            if glyph is None:
                continue
            for i, bit in enumerate(glyph):
                if bit == "1":
                    self.dot(x + n * 4 * scale + (i % 3) * scale, y + (i // 3) * scale, colour, scale)

    def png(self) -> bytes:
        rows = b"".join(
            b"\x00" + bytes(self.pixels[3 * self.width * y : 3 * self.width * (y + 1)]) for y in range(self.height)
        )

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")
        )


def _label(value: float) -> str:
    return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"


def loss_chart(series: Sequence[Sequence[Point]]) -> bytes | None:
    """Lines of (step, loss) points (train first, then validation) as a PNG; None without two points."""
    points = [p for line in series for p in line]
    if len(points) < 2:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    canvas = _Canvas(WIDTH, HEIGHT)
    left, right, top, bottom = MARGIN + 20, WIDTH - MARGIN // 2, MARGIN // 2, HEIGHT - MARGIN

    def at(p: Point) -> tuple[int, int]:
        return (
            round(left + (p[0] - x0) / (x1 - x0) * (right - left)),
            round(bottom - (p[1] - y0) / (y1 - y0) * (bottom - top)),
        )

    for i in range(5):  # horizontal grid
        y = round(top + i * (bottom - top) / 4)
        canvas.line(left, y, right, y, GREY)
    canvas.line(left, top, left, bottom, BLACK)
    canvas.line(left, bottom, right, bottom, BLACK)
    canvas.text(4, top, _label(y1))
    canvas.text(4, bottom - 10, _label(y0))
    canvas.text(left, bottom + 8, str(int(x0)))
    canvas.text(right - 4 * 2 * len(str(int(x1))), bottom + 8, str(int(x1)))
    for colour, line in zip(COLOURS, series, strict=False):
        ordered = sorted(line)
        for a, b in zip(ordered, ordered[1:], strict=False):
            canvas.line(*at(a), *at(b), colour, 2)
        for p in ordered:
            canvas.dot(at(p)[0] - 1, at(p)[1] - 1, colour, 3)
    return canvas.png()
