#!/usr/bin/python3
"""Slide-ready figures (issue 21): every figure command writes PNG, SVG and PDF
by the file's extension, with Pango text, so class names with accents come out
whole.  Checked with independent renderers, not with Mirada's own code:

- the SVG rendered by librsvg (`rsvg-convert`) and the PDF rendered by
  poppler (`pdftoppm`) at the PNG's size look like the PNG Cairo wrote:
  mean absolute difference and the share of pixels off by more than
  PIXEL_TOL within TOL (text edges and image smoothing differ a little
  between renderers; a missing box or tile does not pass);
- poppler's text extraction (`pdftotext`) of the PDF finds the accented class
  names ("pantalón", "botín") and the figure's title, so the text is real
  text with the right characters, not boxes or "PANTAL??N";
- the PNG is not blank, and a figure of other class names differs from it.

    test-figures.py MIRADA SRCROOT          Prints TAP.
"""
import os
import shutil
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
PIXEL_TOL = 64     # a pixel is "off" when a channel differs by more than this
# (mean |Δ| per channel 0..255, share of pixels off) allowed per format: librsvg
# draws like Cairo up to text anti-aliasing; poppler's Splash also smooths
# embedded pictures (measured on these figures: SVG ≤ 0.9 / 0.5 %, PDF ≤ 5.8 / 3.2 %).
TOL = {"svg": (3.0, 0.02), "pdf": (8.0, 0.05)}
# The built-in model's 11 classes, in Spanish (accents in two of them).
ES = ["camiseta/top", "pantalón", "jersey", "vestido", "abrigo", "sandalia", "camisa",
      "zapatilla", "bolso", "botín", "fondo"]
# Where the demo scene has which item (resources/default/scene.json).
ITEMS = {"pantalón": (440, 240), "zapatilla": (600, 240), "bolso": (40, 200),
         "camiseta/top": (0, 40)}


def png_read(path):
    """An 8-bit RGB/RGBA/grey non-interlaced PNG as an H×W×3 uint8 array."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _c, _f, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0, (path, depth, interlace)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    ch = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    raw = zlib.decompress(idat)
    stride = w * ch
    out = np.zeros((h, stride), np.int32)
    prev = np.zeros(stride, np.int32)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) & 255
        else:
            cur = np.zeros(stride, np.int32)
            for x in range(stride):
                a = cur[x - ch] if x >= ch else 0
                b = prev[x]
                c = prev[x - ch] if x >= ch else 0
                if f == 1:
                    cur[x] = (line[x] + a) & 255
                elif f == 3:
                    cur[x] = (line[x] + (a + b) // 2) & 255
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                    cur[x] = (line[x] + pr) & 255
        out[y] = cur
        prev = cur
    img = out.reshape(h, w, ch)
    if ch in (1, 2):
        img = np.repeat(img[:, :, :1], 3, axis=2)
    elif ch == 4:  # on white, as a viewer shows it
        a = img[:, :, 3:4] / 255.0
        img = (img[:, :, :3] * a + 255 * (1 - a)).round().astype(np.int32)
    return img[:, :, :3].astype(np.uint8)


def png_write(path, rgb):
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xffffffff)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(
        ">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) +
        chunk(b"IEND", b""))


def run(*args):
    p = subprocess.run([MIRADA] + list(args), capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr


def render(path, w, h, tmp):
    """The SVG or PDF rendered by an independent library at w × h."""
    out = os.path.join(tmp, os.path.basename(path) + ".render")
    if path.endswith(".svg"):
        subprocess.run(["rsvg-convert", "-w", str(w), "-h", str(h), "-b", "white", "-f", "png",
                        "-o", out + ".png", path], check=True, timeout=120)
    else:
        subprocess.run(["pdftoppm", "-png", "-singlefile", "-scale-to-x", str(w),
                        "-scale-to-y", str(h), path, out], check=True, timeout=120)
    return png_read(out + ".png")


def compare_formats(name, args, out_opt, tmp, pdf_texts):
    """Runs `mirada ARGS OUT_OPT FILE` for .png, .svg and .pdf and compares them."""
    paths = {}
    for ext in ("png", "svg", "pdf"):
        paths[ext] = os.path.join(tmp, f"{name}.{ext}")
        rc, _out, err = run(*args, out_opt, paths[ext])
        check(rc == 0 and os.path.getsize(paths[ext]) > 0, f"{name}: writes .{ext}", err)
        if rc != 0:
            return None
    head = {ext: open(paths[ext], "rb").read(5) for ext in paths}
    check(head["png"][:4] == b"\x89PNG" and head["pdf"] == b"%PDF-" and
          b"<" in open(paths["svg"], "rb").read(64),
          f"{name}: each file is in the format its extension names", repr(head))
    png = png_read(paths["png"])
    h, w, _ = png.shape
    check(png.std() > 10, f"{name}: the PNG is not blank (std {png.std():.1f})")
    for ext in ("svg", "pdf"):
        if not shutil.which("rsvg-convert" if ext == "svg" else "pdftoppm"):
            check(False, f"{name}: {ext} renderer installed (build-aux/install-deps)")
            continue
        other = render(paths[ext], w, h, tmp)
        diff = np.abs(png.astype(np.int32) - other.astype(np.int32))
        mean, bad = diff.mean(), (diff.max(axis=2) > PIXEL_TOL).mean()
        MEAN_TOL, BAD_TOL = TOL[ext]
        if mean >= MEAN_TOL or bad > BAD_TOL:
            png_write(os.path.join(tmp, f"{name}.{ext}.diff.png"),
                      np.clip(diff * 4, 0, 255).astype(np.uint8))
        check(mean < MEAN_TOL and bad <= BAD_TOL,
              f"{name}: the {ext.upper()} renders like the PNG (mean |Δ| {mean:.2f} < {MEAN_TOL}, "
              f"{100 * bad:.2f}% pixels off ≤ {100 * BAD_TOL:.0f}%)",
              f"{w}×{h}; diff image kept in {tmp}" if mean >= MEAN_TOL or bad > BAD_TOL else "")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-enc", "UTF-8", paths["pdf"], "-"],
                              capture_output=True, text=True, timeout=60).stdout
        missing = [t for t in pdf_texts if t not in text]
        check(not missing, f"{name}: the PDF's text has {', '.join(pdf_texts)}",
              f"missing {missing} in: {text[:400]!r}")
    else:
        check(False, f"{name}: pdftotext installed (build-aux/install-deps: poppler-utils)")
    return png


with tempfile.TemporaryDirectory() as tmp:
    labels = os.path.join(tmp, "es.txt")
    open(labels, "w", encoding="utf-8").write("\n".join(ES) + "\n")
    scene = png_read(SCENE)

    # detect --draw: boxes with accented labels.
    det = compare_formats("detect", ["detect", MODEL, SCENE, "--labels", labels, "-c",
                                     "pantalón,zapatilla,bolso,camiseta/top"], "--draw", tmp,
                          ["pantalón", "zapatilla", "bolso", "camiseta/top"])

    # The same boxes with English names: the labels are really drawn from the names.
    en = os.path.join(tmp, "detect-en.png")
    rc, _o, err = run("detect", MODEL, SCENE, "-c", "Trouser,Sneaker,Bag,T-shirt/top",
                      "--draw", en)
    if det is not None and rc == 0:
        d = np.abs(det.astype(np.int32) - png_read(en).astype(np.int32)).max(axis=2) > PIXEL_TOL
        check(0.001 < d.mean() < 0.2, f"detect: other class names change only the labels "
              f"({100 * d.mean():.2f}% of pixels)")

    # evaluate --png / --wrong on a folder dataset whose classes have accents.
    data = os.path.join(tmp, "data")
    for name, (x, y) in ITEMS.items():
        folder = os.path.join(data, name.replace("/", "-") if "/" in name else name)
        os.makedirs(folder)
        for k, (dx, dy) in enumerate([(0, 0), (10, 0), (0, 10), (-10, 0), (0, -10)]):
            x0, y0 = max(0, x + dx), max(0, y + dy)
            png_write(os.path.join(folder, f"{k}.png"), scene[y0:y0 + 150, x0:x0 + 150])
    # "camiseta-top" is not a class name: keep only the others for the matrix
    shutil.rmtree(os.path.join(data, "camiseta-top"))
    compare_formats("confusion", ["evaluate", MODEL, data, "--labels", labels], "--png", tmp,
                    ["pantalón", "botín", "Confusion matrix", "Predicted class"])

    # activations --out, gradcam -o (every class, captions), filters -o.
    compare_formats("activations", ["activations", MODEL, SCENE, "--layer", "conv2d"], "--out",
                    tmp, ["Activations of", "conv2d", "31"])
    trouser = os.path.join(tmp, "trouser.png")
    png_write(trouser, scene[240:390, 440:590])
    compare_formats("gradcam", ["gradcam", MODEL, trouser, "--all-classes", "--labels", labels],
                    "-o", tmp, ["pantalón", "botín", "gradcam · P ="])
    compare_formats("deletion", ["gradcam", MODEL, trouser, "--labels", labels, "-m",
                                 "gradcam,random"], "--deletion-png", tmp,
                    ["Deletion curve: pantalón", "random", "Area under the curve"])
    compare_formats("filters", ["filters", MODEL, "--layer", "conv2d", "--filters", "0-7",
                                "--steps", "5"], "-o", tmp, ["conv2d", "plain gradient ascent"])
finish()
