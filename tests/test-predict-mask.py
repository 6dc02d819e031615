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
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np

from tap import check, finish

MIRADA = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
MODEL = os.path.join(SRC, "resources", "default", "model.h5")
SCENE = os.path.join(SRC, "resources", "default", "scene.png")
TOL = 1e-6


def png_write(path, rgb):
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xffffffff)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(
        ">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) +
        chunk(b"IEND", b""))


def png_read(path):
    data = open(path, "rb").read()
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    ch = {0: 1, 2: 3, 6: 4}[ctype]
    raw, stride = zlib.decompress(idat), w * ch
    out, prev = np.zeros((h, stride), np.int32), np.zeros(stride, np.int32)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        cur = np.zeros(stride, np.int32)
        for x in range(stride):
            a = cur[x - ch] if x >= ch else 0
            b, c = prev[x], (prev[x - ch] if x >= ch else 0)
            if f == 0:
                cur[x] = line[x]
            elif f == 1:
                cur[x] = (line[x] + a) & 255
            elif f == 2:
                cur[x] = (line[x] + b) & 255
            elif f == 3:
                cur[x] = (line[x] + (a + b) // 2) & 255
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                cur[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out[y], prev = cur, cur
    img = out.reshape(h, w, ch)[:, :, :3] if ch >= 3 else np.repeat(out.reshape(h, w, 1), 3, 2)
    return img.astype(np.uint8)


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
