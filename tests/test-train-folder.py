#!/usr/bin/python3
"""`mirada train --dataset DIR` on folder-per-class trees made here (issue 16).

    test-train-folder.py MIRADA

A folder is read class by class, so Keras' validation_split (the last
images) kept the last class out of training entirely.  Checks that the split
is stratified and reproducible for a seed, that every class is trained on
(`mirada evaluate` recalls each), that --validation DIR is used and its
classes checked, and that an unreadable file is skipped with a warning.

Tiny grey PNGs written with zlib/struct; standard library only.  Prints TAP.
"""
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

from tap import check, finish

MIRADA = os.path.abspath(sys.argv[1])
CLASSES = ["alpha", "bravo", "charlie", "delta"]
SIDE = 8

# Flatten + Dense softmax on 8×8 grey: a few milliseconds per epoch.
ARCH = """{"class_name": "Sequential", "config": {"name": "tiny", "layers": [
 {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 8, 8, 1],
  "dtype": "float32", "sparse": false, "ragged": false, "name": "input_1"}},
 {"class_name": "Flatten", "config": {"name": "flatten", "trainable": true,
  "dtype": "float32", "data_format": "channels_last"}},
 {"class_name": "Dense", "config": {"name": "dense", "trainable": true, "dtype": "float32",
  "units": 4, "activation": "softmax", "use_bias": true}}]},
 "keras_version": "2.15.0", "backend": "tensorflow"}"""


def png_grey(path, rows):
    """An 8-bit greyscale PNG from a list of rows of 0..255 ints."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    h, w = len(rows), len(rows[0])
    raw = b"".join(b"\0" + bytes(r) for r in rows)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def make_tree(root, per_class, seed, classes=CLASSES):
    """Class c lights quadrant c % 4 of a dim, noisy 8×8 image."""
    rng = random.Random(seed)
    for c, name in enumerate(classes):
        d = os.path.join(root, name)
        os.makedirs(d)
        qy, qx = divmod(c % 4, 2)
        for i in range(per_class):
            rows = [[rng.randrange(0, 60) for _x in range(SIDE)] for _y in range(SIDE)]
            for y in range(qy * 4, qy * 4 + 4):
                for x in range(qx * 4, qx * 4 + 4):
                    rows[y][x] = rng.randrange(190, 256)
            png_grey(os.path.join(d, "%03d.png" % i), rows)


def run(*args):
    p = subprocess.run([MIRADA] + list(args), capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, LANGUAGE="", LC_ALL="C.UTF-8"))
    return p.returncode, p.stdout, p.stderr


def split_counts(out):
    """{class: (training, validation)} from train's "Images per class" lines."""
    counts = {}
    m = re.search(r"Images per class \(training \+ validation\):\n((?:  .*\n)+)", out)
    for line in (m.group(1).splitlines() if m else []):
        name, _, nums = line.strip().rpartition(": ")
        t, v = nums.split(" + ")
        counts[name] = (int(t), int(v))
    return counts


def recalls(out):
    """{class: recall} from evaluate's table (class precision recall support)."""
    r = {}
    for line in out.splitlines():
        tok = line.split()
        if len(tok) == 4 and tok[0] in CLASSES:
            r[tok[0]] = float(tok[2].replace(",", "."))
    return r


def epoch_lines(out):
    return [re.sub(r"\([^()]*s\)$", "", l) for l in out.splitlines() if l.startswith("Epoch ")]


tmp = tempfile.mkdtemp(prefix="mirada-train-folder-")
try:
    arch = os.path.join(tmp, "arch.json")
    with open(arch, "w") as f:
        f.write(ARCH)
    data = os.path.join(tmp, "data")
    make_tree(data, 20, seed=1)
    model = os.path.join(tmp, "m.h5")
    common = ["--arch", arch, "--out", model, "--batch", "4", "--threads", "1",
              "--optimizer", "adam", "--lr", "0.05"]

    # 4 classes × 20 images, a quarter for validation: the tail would be all
    # of "delta".  Stratified: 15 + 5 of each class.
    rc, out, err = run("train", "--dataset", data, "--validation-split", "0.25", "--epochs", "2",
                       "--seed", "3", *common)
    check(rc == 0, "train on a folder tree", err)
    counts = split_counts(out)
    check(counts == {c: (15, 5) for c in CLASSES},
          "split is stratified: 15 + 5 images of every class", out)
    first = epoch_lines(out)
    check(len(first) == 2 and "validation accuracy" in first[0], "two epochs with validation",
          out)
    rc, out, err = run("evaluate", model, data)
    r = recalls(out)
    check(rc == 0 and len(r) == 4 and all(v > 0 for v in r.values()),
          "every class is trained on: evaluate recalls each (the last one too)", out + err)
    check(r.get("delta", 0) >= 0.5, "the last class is learnt (recall >= 0.5)", out)

    # The same seed splits (and trains) the same way; another seed differently.
    rc, out, err = run("train", "--dataset", data, "--validation-split", "0.25", "--epochs", "2",
                       "--seed", "3", *common)
    check(rc == 0 and epoch_lines(out) == first, "the same seed gives the same run",
          "%r vs %r" % (epoch_lines(out), first))
    rc, out, err = run("train", "--dataset", data, "--validation-split", "0.25", "--epochs", "2",
                       "--seed", "4", *common)
    check(rc == 0 and split_counts(out) == counts and epoch_lines(out) != first,
          "another seed: the same counts, another split", out + err)
    # Default split (0.1): round(2.0) = 2 of each class.
    rc, out, err = run("train", "--dataset", data, "--epochs", "1", "--seed", "3", *common)
    check(rc == 0 and split_counts(out) == {c: (18, 2) for c in CLASSES},
          "default split: 18 + 2 of every class", out + err)

    # --validation DIR: all of DIR trains, the second tree validates.
    val = os.path.join(tmp, "val")
    make_tree(val, 6, seed=2)
    rc, out, err = run("train", "--dataset", data, "--validation", val, "--epochs", "1",
                       "--seed", "3", *common)
    check(rc == 0 and split_counts(out) == {c: (20, 6) for c in CLASSES}
          and "validation accuracy" in out, "--validation DIR is used", out + err)
    rc, out, err = run("train", "--dataset", data, "--validation", val, "--validation-split",
                       "0.2", *common)
    check(rc == 1 and "--validation" in err, "--validation with --validation-split: usage error",
          err)
    other = os.path.join(tmp, "other")
    make_tree(other, 2, seed=3, classes=["alpha", "bravo", "charlie", "echo"])
    rc, out, err = run("train", "--dataset", data, "--validation", other, *common)
    check(rc == 2 and err.startswith("mirada: ") and len(err.splitlines()) == 1
          and other in err and "echo" in err and "delta" in err,
          "--validation with other classes: one error line naming both sets", err)

    # A corrupt and an empty file are skipped with a warning each and a count.
    with open(os.path.join(data, "bravo", "broken.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\nthis is not a PNG")
    open(os.path.join(data, "charlie", "empty.jpg"), "wb").close()
    rc, out, err = run("train", "--dataset", data, "--epochs", "1", "--seed", "3", *common)
    lines = err.splitlines()
    check(rc == 0, "train skips unreadable files instead of aborting", err)
    check(any(l.startswith("mirada: skipping " + os.path.join(data, "bravo", "broken.png") + ": ")
              for l in lines)
          and any(l.startswith("mirada: skipping " + os.path.join(data, "charlie", "empty.jpg")
                               + ": ") for l in lines),
          "one 'mirada: skipping FILE: WHY' line per bad file", err)
    check(any(l.startswith("mirada: skipped 2 files") for l in lines), "and a count at the end",
          err)
    check(split_counts(out) == {c: (18, 2) for c in CLASSES}, "the good images all load", out)

    # A class with nothing readable stops the run, naming it.
    os.makedirs(os.path.join(data, "echo"))
    shutil.copy(os.path.join(data, "bravo", "broken.png"), os.path.join(data, "echo", "x.png"))
    rc, out, err = run("train", "--dataset", data, "--epochs", "1", *common)
    check(rc == 2 and err.splitlines()[-1].startswith("mirada: ") and "echo" in err.splitlines()[-1],
          "a class with no readable image is an error naming it", err)
    shutil.rmtree(os.path.join(data, "echo"))

    # The default architecture on 10 classes gets "background" too: it is
    # split the same way as the others.
    ten = os.path.join(tmp, "ten")
    make_tree(ten, 6, seed=4, classes=["c%d" % i for i in range(10)])
    rc, out, err = run("train", "--dataset", ten, "--out", model, "--epochs", "1", "--batch", "16",
                       "--threads", "1")
    counts = split_counts(out)
    check(rc == 0 and len(counts) == 11 and counts.get("background") == (5, 1)
          and all(counts["c%d" % i] == (5, 1) for i in range(10)),
          "default architecture: 10 classes and background, 5 + 1 each", out + err)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

finish()
