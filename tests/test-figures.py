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
