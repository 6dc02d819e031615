#!/usr/bin/python3
"""`mirada predict --mask MASK.png [--fill grey|blur|noise]` (issue 19): the
probabilities equal those of a plain `predict` on the image masked here, with
numpy, independently of Mirada's code (tolerance 1e-6: the same pixels go
through the same model):

- grey: the hidden pixels become 128;
- blur: a separable box blur of radius min(W, H) // 16, edges clamped,
  rounded as (sum + r) // (2r + 1);
- a mask of another size is stretched over the image (nearest: mask pixel
  (x·mw // W, y·mh // H));
- noise is deterministic (two runs equal) and differs from grey;
- an all-black mask changes nothing; --fill without --mask, an unknown fill
  and an unreadable mask are refused.

    test-predict-mask.py MIRADA SRCROOT          Prints TAP.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from pngio import png_read, png_write
from tap import check, finish

MIRADA = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
MODEL = os.path.join(SRC, "resources", "default", "model.h5")
SCENE = os.path.join(SRC, "resources", "default", "scene.png")
TOL = 1e-6




def predict(*args):
    p = subprocess.run([MIRADA, "predict", MODEL, "--json", "-k", "11", *args],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        return None, p
    item = json.loads(p.stdout)["images"][0]
    return {d["class"]: d["probability"] for d in item["predictions"]}, p


def stretch(mask, h, w):
    mh, mw = mask.shape[:2]
    ys = (np.arange(h) * mh) // h
    xs = (np.arange(w) * mw) // w
    return mask[ys][:, xs]


def box_blur(img, r):
    x = img.astype(np.int64)
    h, w, _ = x.shape
    pad = np.pad(x, ((0, 0), (r, r), (0, 0)), mode="edge")
    t = sum(pad[:, k:k + w] for k in range(2 * r + 1))
    t = (t + r) // (2 * r + 1)
    pad = np.pad(t, ((r, r), (0, 0), (0, 0)), mode="edge")
    y = sum(pad[k:k + h] for k in range(2 * r + 1))
    return ((y + r) // (2 * r + 1)).astype(np.uint8)


def close(a, b):
    return a is not None and b is not None and a.keys() == b.keys() and \
        max(abs(a[k] - b[k]) for k in a) <= TOL


with tempfile.TemporaryDirectory() as tmp:
    scene = png_read(SCENE)
    photo = scene[240:390, 440:590].copy()          # the trouser item, 150×150
    photo_path = os.path.join(tmp, "photo.png")
    png_write(photo_path, photo)
    h, w, _ = photo.shape
    mask = np.zeros((h, w, 3), np.uint8)
    mask[:, 40:110] = 255                          # hide the middle band
    mask_path = os.path.join(tmp, "mask.png")
    png_write(mask_path, mask)
    hide = mask[:, :, 0] >= 128

    for fill in ("grey", "blur"):
        ref = photo.copy()
        ref[hide] = 128 if fill == "grey" else box_blur(photo, min(h, w) // 16)[hide]
        ref_path = os.path.join(tmp, f"ref-{fill}.png")
        png_write(ref_path, ref)
        want, p1 = predict(ref_path)
        got, p2 = predict(photo_path, "--mask", mask_path, "--fill", fill)
        check(close(want, got), f"--fill {fill}: equals predict on the image masked with numpy",
              f"{want} vs {got}; {p1.stderr} {p2.stderr}")

    plain, _ = predict(photo_path)
    grey, _ = predict(photo_path, "--mask", mask_path)
    check(plain is not None and grey is not None and
          max(abs(plain[k] - grey[k]) for k in plain) > 0.01,
          "hiding the middle band changes the probabilities", f"{plain} {grey}")

    small = mask[::3, ::3]                         # 50×50, stretched back by Mirada
    small_path = os.path.join(tmp, "small.png")
    png_write(small_path, small)
    ref = photo.copy()
    ref[stretch(small, h, w)[:, :, 0] >= 128] = 128
    ref_path = os.path.join(tmp, "ref-small.png")
    png_write(ref_path, ref)
    want, _ = predict(ref_path)
    got, p = predict(photo_path, "--mask", small_path)
    check(close(want, got), "a 50×50 mask is stretched over the 150×150 image", p.stderr)

    n1, _ = predict(photo_path, "--mask", mask_path, "--fill", "noise")
    n2, _ = predict(photo_path, "--mask", mask_path, "--fill", "noise")
    check(close(n1, n2) and not close(n1, grey), "noise: deterministic, and not grey")

    black = os.path.join(tmp, "black.png")
    png_write(black, np.zeros((h, w, 3), np.uint8))
    got, _ = predict(photo_path, "--mask", black)
    check(close(plain, got), "an all-black mask hides nothing")

    for args, rc_want, what in (
            (["--fill", "grey"], 1, "--fill without --mask"),
            (["--mask", mask_path, "--fill", "sepia"], 1, "an unknown fill"),
            (["--mask", os.path.join(tmp, "missing.png")], 2, "a missing mask file")):
        _, p = predict(photo_path, *args)
        check(p.returncode == rc_want and p.stderr.strip().count("\n") <= 1,
              f"{what}: exit {rc_want}, one line", f"exit {p.returncode}: {p.stderr}")
finish()
