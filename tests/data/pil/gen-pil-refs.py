#!/usr/bin/python3
"""Regenerates the Pillow references test-image checks against.

Run with /usr/bin/python3 (Pillow + numpy):  tests/data/pil/gen-pil-refs.py
Writes, next to this script:
  nearest.txt  "SRC DST i0 i1 ..." per line: the source column Pillow's
               Image.resize(..., NEAREST) (Keras load_img) reads for each
               destination column, found by resizing a 1-row image whose
               pixel values are their own column indices.
  luma.txt     "R G B L" per line: Pillow's convert("L") of random pixels.
"""
import os
import random

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
PAIRS = [(4, 3), (3, 5), (37, 16), (16, 37), (224, 299), (299, 224), (640, 224),
         (100, 3), (1000, 7), (7, 1000), (480, 150), (150, 480), (5, 5), (1, 9), (9, 1),
         (1920, 224), (3000, 299), (255, 254), (254, 255)]

with open(os.path.join(HERE, "nearest.txt"), "w") as f:
    f.write("# Pillow %s Image.resize NEAREST source indices: SRC DST indices...\n"
            % Image.__version__)
    for src, dst in PAIRS:
        row = Image.fromarray(np.arange(src, dtype=np.int32).reshape(1, src), mode="I")
        idx = np.array(row.resize((dst, 1), Image.NEAREST))[0]
        f.write("%d %d %s\n" % (src, dst, " ".join(str(int(i)) for i in idx)))

rng = random.Random(7)
pixels = [(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(256)]
pixels += [(0, 0, 0), (255, 255, 255), (255, 0, 0), (0, 255, 0), (0, 0, 255), (128, 128, 128)]
grey = np.array(Image.fromarray(np.array([pixels], dtype=np.uint8), "RGB").convert("L"))[0]
with open(os.path.join(HERE, "luma.txt"), "w") as f:
    f.write("# Pillow %s convert('L'): R G B L\n" % Image.__version__)
    for (r, g, b), l in zip(pixels, grey):
        f.write("%d %d %d %d\n" % (r, g, b, int(l)))
