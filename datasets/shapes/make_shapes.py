"""Writes the tiny `shapes` ImageFolder: RGB PNGs of three drawn shapes (one folder per class).

Standard library only (zlib + struct), deterministic (random.Random(0)):

    python3 datasets/shapes/make_shapes.py datasets/shapes

train/<class>/NN.png: 24 images per class; test/<class>/NN.png: 8 per class. Images are
14 to 20 pixels on a side (so a config needs a Resize), a coloured shape on a noisy
background of another colour: `disk`, `cross` (a plus sign) or `frame` (a square outline).
"""

import os
import random
import struct
import sys
import zlib

CLASSES = ["cross", "disk", "frame"]


def png(path, w, h, rows):
    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(v for px in row for v in px) for row in rows)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def inside(shape, x, y, cx, cy, r):
    dx, dy = x - cx, y - cy
    if shape == "disk":
        return dx * dx + dy * dy <= r * r
    if shape == "cross":
        t = max(1.0, r / 3)
        return (abs(dx) <= t and abs(dy) <= r) or (abs(dy) <= t and abs(dx) <= r)
    m = max(abs(dx), abs(dy))
    return r - max(1.0, r / 3) <= m <= r


def draw(rng, shape):
    size = rng.randint(14, 20)
    cx = size / 2 - 0.5 + rng.uniform(-1.5, 1.5)
    cy = size / 2 - 0.5 + rng.uniform(-1.5, 1.5)
    r = size * rng.uniform(0.28, 0.4)
    fg = [rng.randint(150, 255) for _ in range(3)]
    bg = [rng.randint(0, 90) for _ in range(3)]
    rows = []
    for y in range(size):
        row = []
        for x in range(size):
            base = fg if inside(shape, x, y, cx, cy, r) else bg
            row.append(tuple(min(255, max(0, v + rng.randint(-20, 20))) for v in base))
        rows.append(row)
    return size, rows


def main(root):
    rng = random.Random(0)
    for split, n in (("train", 24), ("test", 8)):
        for shape in CLASSES:
            d = os.path.join(root, split, shape)
            os.makedirs(d, exist_ok=True)
            for i in range(n):
                size, rows = draw(rng, shape)
                png(os.path.join(d, f"{i:02d}.png"), size, size, rows)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
