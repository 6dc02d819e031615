#!/usr/bin/python3
"""Real-photo detector scenes with ground truth (issues 17 and 18): animals
cropped from ../shared/fixtures/photos/ (licences in its MANIFEST.md: BSD-2,
BSD-3, public domain), each scaled to about one detector window (150 px) and
pasted on a plain or textured 800x400 background, like the photo of seed
000 (two dogs and two cats).  Class names are CIFAR-10's, so any CIFAR-10
model (no background class) can be run on them.

    /usr/bin/python3 tests/gen/photo-scenes.py SHARED_PHOTOS OUTDIR

Writes OUTDIR/photo-N.jpg and OUTDIR/photo-N.json (Mirada's truth format:
{"image", "width", "height", "objects": [{"class", "box": [x, y, w, h]}]}).
Deterministic: fixed crops, positions and noise seed.  Needs Pillow + numpy.
"""
import json
import os
import sys

import numpy as np
from PIL import Image

SRC, OUT = sys.argv[1], sys.argv[2]
os.makedirs(OUT, exist_ok=True)

# (file, square crop x0, y0, side in the original, CIFAR-10 class)
CROPS = {
    "cat1": ("cadene__cat.jpg", 55, 20, 340, "cat"),
    "cat2": ("caffe__cat.jpg", 100, 16, 330, "cat"),
    "dog": ("darknet__dog.jpg", 70, 218, 320, "dog"),
    "eagle": ("darknet__eagle.jpg", 129, 40, 464, "bird"),
    "horse1": ("darknet__horses.jpg", 0, 150, 300, "horse"),
    "horse2": ("darknet__horses.jpg", 430, 180, 200, "horse"),
}

# (background, [(crop, x, y, side)])
SCENES = [
    ("plain", [("cat1", 40, 120, 150), ("dog", 250, 40, 150), ("cat2", 430, 200, 150),
               ("horse1", 610, 60, 150)]),
    ("textured", [("cat2", 30, 40, 150), ("eagle", 220, 210, 150), ("dog", 420, 60, 150),
                  ("cat1", 610, 210, 150)]),
    ("plain", [("horse1", 40, 40, 160), ("horse2", 260, 200, 140), ("cat1", 470, 40, 150),
               ("dog", 630, 220, 140)]),
    ("textured", [("eagle", 60, 60, 150), ("cat2", 300, 200, 150), ("horse2", 560, 50, 150)]),
]


def background(kind, rng):
    if kind == "plain":
        return Image.new("RGB", (800, 400), (196, 196, 190))
    # a soft random texture, like a lawn or a carpet: low-frequency grey
    # noise plus grain, tinted grey-green
    small = rng.integers(80, 180, size=(10, 20), dtype=np.uint8)
    tex = np.asarray(Image.fromarray(small).resize((800, 400), Image.BICUBIC), dtype=float)
    tex = tex + rng.normal(0, 10, size=(400, 800))
    rgb = np.stack([tex * 0.85, tex * 1.0, tex * 0.75], axis=-1)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


rng = np.random.default_rng(18)
for n, (kind, items) in enumerate(SCENES, 1):
    img = background(kind, rng)
    objects = []
    for name, x, y, side in items:
        f, cx, cy, cs, cls = CROPS[name]
        crop = Image.open(os.path.join(SRC, f)).convert("RGB").crop((cx, cy, cx + cs, cy + cs))
        img.paste(crop.resize((side, side), Image.LANCZOS), (x, y))
        objects.append({"class": cls, "box": [x, y, side, side]})
    base = "photo-%d" % n
    img.save(os.path.join(OUT, base + ".jpg"), quality=92)
    with open(os.path.join(OUT, base + ".json"), "w") as fh:
        json.dump({"image": base + ".jpg", "width": 800, "height": 400, "objects": objects},
                  fh, indent=1)
    print(os.path.join(OUT, base + ".jpg"))
