#!/usr/bin/python3
"""The course's workflow from the command line (issue 21).

    test-course-cli.py MIRADA SRCDIR

- ImageNet names: a 1000-class model (arch:mobilenetv2, random weights) names
  every class like the reference parsed here from the shipped files
  (engine/data/imagenet: first synset name of the i-th WordNet id); Keras'
  imagenet_class_index.json as --labels replaces them; a broken one is
  refused (exit 2).
- train on CIFAR-10 (the .tar.gz) and an IDX folder made by
  tests/gen/make-datasets.py, --history CSV/JSON agreeing with the epoch
  lines printed (4 decimals), --history-png a PNG of the documented size,
  a progress line on a pseudo-terminal and none when stderr is a pipe;
  evaluate on the archive reads its test batch.
- Bad option values (out of range, unknown names) are usage errors: exit 1
  and the "--help" hint, in every command.

Standard library only.  Prints TAP.
"""
import csv
import json
import os
import pty
import re
import struct
import subprocess
import sys
import tempfile

from tap import check, finish

MIRADA = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
ROOT = os.path.dirname(SRC)
DATA = os.path.join(SRC, "data", "datasets")
IMAGE = os.path.join(SRC, "data", "scene-small.png")
ARCH = "arch:mobilenetv2,alpha=0.35,size=96"


def on_terminal(argv):
    """Runs @argv with stderr on a pseudo-terminal: (exit code, what it wrote there)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    tty = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        tty += chunk
    os.close(master)
    return proc.wait(timeout=120), tty


def run(*args):
    return subprocess.run([MIRADA, *args], capture_output=True, text=True, timeout=240)


# --- ImageNet names -------------------------------------------------------
idir = os.path.join(ROOT, "engine", "data", "imagenet")
wnids = [l.strip() for l in open(os.path.join(idir, "imagenet_classes.txt")) if l.strip()]
first = {}
for line in open(os.path.join(idir, "imagenet_synsets.txt")):
    wnid, _, names = line.rstrip("\n").partition(" ")
    first[wnid] = names.split(",")[0].strip()
ref = [first[w] for w in wnids]
check(len(ref) == 1000 and ref[0] == "tench" and ref[281] == "tabby",
      "reference: 1000 names, 0 tench, 281 tabby", str(ref[:3]))


def labels_by_class(proc):
    doc = json.loads(proc.stdout)
    return {p["class"]: p["label"] for p in doc["images"][0]["predictions"]}


p = run("predict", ARCH, IMAGE, "--top", "1000", "--json")
got = labels_by_class(p) if p.returncode == 0 else {}
check(p.returncode == 0 and len(got) == 1000 and all(got[i] == ref[i] for i in range(1000)),
      "arch: model with 1000 classes: every class has its ImageNet name",
      p.stderr + str([(i, got.get(i), ref[i]) for i in range(1000) if got.get(i) != ref[i]][:5]))

with tempfile.TemporaryDirectory() as tmp:
    index = {str(i): [wnids[i], ref[i].replace(" ", "_") + "_k"] for i in range(1000)}
    kpath = os.path.join(tmp, "imagenet_class_index.json")
    with open(kpath, "w") as f:
        json.dump(index, f)
    p = run("predict", ARCH, IMAGE, "--top", "1000", "--json", "--labels", kpath)
    got = labels_by_class(p) if p.returncode == 0 else {}
    check(p.returncode == 0 and all(got.get(i) == index[str(i)][1] for i in range(1000)),
          "--labels imagenet_class_index.json (Keras) names the classes", p.stderr)

    del index["999"]
    index["1000"] = ["n0", "extra"]
    with open(kpath, "w") as f:
        json.dump(index, f)
    p = run("predict", ARCH, IMAGE, "--labels", kpath)
    check(p.returncode == 2 and "'1000'" in p.stderr and p.stderr.count("\n") == 1,
          "a class index with a key out of range: exit 2, one line", p.stderr)

    short = {str(i): ["n%08d" % i, "c%d" % i] for i in range(10)}
    with open(kpath, "w") as f:
        json.dump(short, f)
    p = run("predict", ARCH, IMAGE, "--labels", kpath)
    check(p.returncode == 2 and "10 classes" in p.stderr and "1000" in p.stderr,
          "a class index of 10 names for 1000 outputs: exit 2", p.stderr)

    # --- train on the real formats, with a history ------------------------
    EPOCH = re.compile(r"Epoch (\d+)/\d+: loss ([0-9.]+), accuracy ([0-9.]+), "
                       r"validation loss ([0-9.]+), validation accuracy ([0-9.]+)")
    hcsv = os.path.join(tmp, "h.csv")
    hpng = os.path.join(tmp, "h.png")
    p = run("train", "--dataset", os.path.join(DATA, "cifar-10-binary.tar.gz"), "--epochs", "3",
            "--batch", "2", "--validation-split", "0.4", "--history", hcsv,
            "--history-png", hpng, "-o", os.path.join(tmp, "c.h5"))
    printed = [tuple(float(x) for x in m.groups()) for m in EPOCH.finditer(p.stdout)]
    rows = list(csv.DictReader(open(hcsv))) if os.path.exists(hcsv) else []
    agree = len(rows) == 3 == len(printed) and all(
        int(r["epoch"]) == int(e[0]) and
        all(abs(float(r[k]) - e[j]) <= 5e-5 for j, k in
            enumerate(["loss", "accuracy", "val_loss", "val_accuracy"], 1))
        for r, e in zip(rows, printed))
    check(p.returncode == 0 and "on 5 images in 10 classes" in p.stdout and agree,
          "train on cifar-10-binary.tar.gz: --history CSV = the epoch lines (±5e-5)",
          p.stdout + p.stderr + str(rows))
    check("\r" not in p.stderr and "batch 1/" not in p.stderr,
          "no progress line when stderr is a pipe", repr(p.stderr))
    ok_png = False
    if os.path.exists(hpng):
        head = open(hpng, "rb").read(24)
        ok_png = head[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", head[16:24]) == (1000, 500)
    check(ok_png, "--history-png: a 1000×500 PNG")

    # --arch cifar is the CIFAR-10 notebook's CNN: its model.summary() (seed
    # 004, copied here) lists these output shapes and parameter counts.
    seed004 = [("conv2d", [32, 32, 32], 896), ("conv2d_1", [32, 32, 32], 9248),
               ("max_pooling2d", [16, 16, 32], 0), ("conv2d_2", [16, 16, 64], 18496),
               ("conv2d_3", [16, 16, 64], 36928), ("max_pooling2d_1", [8, 8, 64], 0),
               ("conv2d_4", [8, 8, 128], 73856), ("conv2d_5", [8, 8, 128], 147584),
               ("max_pooling2d_2", [4, 4, 128], 0), ("flatten", [2048], 0),
               ("dense", [10], 20490)]
    cifar_h5 = os.path.join(tmp, "cifar-arch.h5")
    p = run("train", "--arch", "cifar", "--dataset", os.path.join(DATA, "cifar-10-binary.tar.gz"),
            "--epochs", "1", "--batch", "2", "-o", cifar_h5)
    q = run("info", cifar_h5, "--json") if p.returncode == 0 else p
    got = []
    if q.returncode == 0:
        got = [(l["name"], l["output_shape"][1:], l["params"]) for l in json.loads(q.stdout)["layers"]
               if l["type"] != "InputLayer"]
    check(got == seed004, "train --arch cifar: the notebook's layers, shapes and 307,498 parameters",
          p.stderr + q.stderr + str(got))

    # detect --sweep --markdown / --latex: the same cells as --csv, for a report
    base = ["detect", os.path.join(ROOT, "resources", "default", "model.h5"),
            os.path.join(ROOT, "resources", "default", "scene.png"), "--truth",
            os.path.join(ROOT, "resources", "default", "scene.json"), "-c", "Trouser,Sneaker",
            "--sweep", "threshold=0.9,0.99", "--sweep", "fe=0,1"]
    pc, pm, pl = run(*base, "--csv"), run(*base, "--markdown"), run(*base, "--latex")
    want = [row for row in csv.reader(pc.stdout.splitlines())]
    md = [[c.strip().replace("\\|", "|") for c in line.strip().strip("|").split(" | ")]
          for line in pm.stdout.splitlines() if not line.startswith("|---")]
    body = pl.stdout.split("\\midrule\n")
    tex_rows = ([pl.stdout.split("\\toprule\n")[1].split(" \\\\")[0]] +
                body[1].split("\\bottomrule")[0].strip().split(" \\\\\n")) if len(body) == 2 else []
    tex = [[c.strip().replace("\\_", "_") for c in r.strip().rstrip("\\").split(" & ")]
           for r in tex_rows if r.strip()]
    check(pc.returncode == pm.returncode == pl.returncode == 0 and len(want) == 5 and md == want,
          "detect --sweep --markdown: the CSV's cells as a pipe table", pm.stdout + pm.stderr)
    check(len(want) == 5 and tex == want and pl.stdout.startswith("\\begin{tabular}{ll") and
          pl.stdout.rstrip().endswith("\\end{tabular}"),
          "detect --sweep --latex: the CSV's cells as a booktabs tabular", pl.stdout + pl.stderr)
    p = run("detect", os.path.join(ROOT, "resources", "default", "model.h5"),
            os.path.join(ROOT, "resources", "default", "scene.png"), "--markdown")
    check(p.returncode == 1, "--markdown without --sweep: usage error", p.stderr)

    # evaluate reads the test batch of the same archive: its support per class
    # is what the generator wrote into test_batch.bin.
    exp = json.load(open(os.path.join(DATA, "expected.json")))["cifar10"]
    p = run("evaluate", os.path.join(tmp, "c.h5"), os.path.join(DATA, "cifar-10-binary.tar.gz"))
    support = {}
    for line in p.stdout.splitlines():
        m = re.match(r"(\S+)\s+[0-9.]+\s+[0-9.]+\s+(\d+)$", line)
        if m and m.group(1) in exp["names"]:
            support[m.group(1)] = int(m.group(2))
    want = {n: exp["test_labels"].count(i) for i, n in enumerate(exp["names"])}
    check(p.returncode == 0 and "of %d)" % len(exp["test_labels"]) in p.stdout and
          all(support.get(n, 0) == want[n] for n in want if want[n] > 0),
          "evaluate on the archive: the test batch, support per class as generated",
          p.stdout + p.stderr + str(want))

    # On a terminal (a pseudo-terminal here) the progress line shows.
    rc, tty = on_terminal([MIRADA, "train", "--dataset", os.path.join(DATA, "cifar-10-binary.tar.gz"),
                           "--epochs", "1", "--batch", "1", "--validation-split", "0",
                           "-o", os.path.join(tmp, "t.h5")])
    check(rc == 0 and b"batch 5/5" in tty and b"\r\x1b[K" in tty,
          "on a terminal: the progress line within the epoch", repr(tty[-300:]))

    # mirada filters: a progress line on a terminal too, none through a pipe
    fargs = [MIRADA, "filters", os.path.join(ROOT, "resources", "default", "model.h5"),
             "--layer", "conv2d", "--filters", "0-3", "--steps", "20", "--no-cache",
             "-o", os.path.join(tmp, "f.png")]
    rc, tty = on_terminal(fargs)
    check(rc == 0 and b"Patterns: " in tty and b"of 4 done" in tty and tty.endswith(b"\r\x1b[K"),
          "filters on a terminal: a progress line, erased at the end", repr(tty[-300:]))
    p = subprocess.run(fargs, capture_output=True, text=True, timeout=120)
    check(p.returncode == 0 and "Patterns:" not in p.stderr, "filters through a pipe: no progress line",
          p.stderr)

    # gradcam --method scorecam: the same on a terminal, per batch of masked images
    gargs = [MIRADA, "gradcam", os.path.join(ROOT, "resources", "default", "model.h5"), IMAGE,
             "--method", "scorecam", "-o", os.path.join(tmp, "sc.png")]
    rc, tty = on_terminal(gargs)
    check(rc == 0 and re.search(rb"scorecam: (\d+) of \1 images", tty) is not None and
          tty.endswith(b"\r\x1b[K"),
          "gradcam --method scorecam on a terminal: a progress line, erased at the end",
          repr(tty[-300:]))
    p = subprocess.run(gargs, capture_output=True, text=True, timeout=120)
    check(p.returncode == 0 and "images (" not in p.stderr,
          "gradcam through a pipe: no progress line", p.stderr)

    hjson = os.path.join(tmp, "h.json")
    p = run("train", "--dataset", os.path.join(DATA, "mnist-idx"), "--epochs", "2", "--batch", "2",
            "--validation-split", "0", "--history", hjson, "-o", os.path.join(tmp, "m.h5"))
    doc = json.load(open(hjson)) if os.path.exists(hjson) else {}
    eps = doc.get("epochs", [])
    check(p.returncode == 0 and [e["epoch"] for e in eps] == [1, 2] and
          all(e["val_loss"] is None and e["loss"] > 0 for e in eps),
          "train on an IDX folder: --history JSON, null validation", p.stdout + p.stderr)
    side = json.load(open(os.path.join(tmp, "m.mirada.json")))
    check(side.get("class_names") == [str(i) for i in range(10)],
          "IDX folder: the digits are the class names", str(side))

    p = run("train", "--dataset", os.path.join(DATA, "mnist-idx"), "--epochs", "2", "--batch", "2",
            "--validation-split", "0", "--history", "-", "-o", os.path.join(tmp, "m2.h5"))
    rows = list(csv.DictReader(p.stdout.splitlines()))
    check(p.returncode == 0 and [r["epoch"] for r in rows] == ["1", "2"] and
          "Epoch 2/2" in p.stderr,
          "--history -: one CSV table on stdout, the report on stderr", p.stdout + p.stderr)

    p = run("train", "--dataset", os.path.join(DATA, "bad", "truncated.tar.gz"), "-o",
            os.path.join(tmp, "t.h5"))
    check(p.returncode == 2 and "truncated" in p.stderr, "a truncated archive: exit 2", p.stderr)

# --- one rule for bad option values: a usage error, exit 1 ---------------
MODEL = os.path.join(ROOT, "resources", "default", "model.h5")
SCENE = os.path.join(ROOT, "resources", "default", "scene.png")
for args in (["predict", MODEL, SCENE, "--top", "0"],
             ["detect", MODEL, SCENE, "-t", "1.5"],
             ["detect", MODEL, SCENE, "--radius", "0"],
             ["detect", MODEL, SCENE, "--classes", "no-such-class"],
             ["activations", MODEL, SCENE, "--layer", "conv2d", "--colormap", "nope"],
             ["gradcam", MODEL, SCENE, "--colormap", "nope"],
             ["gradcam", MODEL, SCENE, "--class", "no-such-class"],
             ["gradcam", MODEL, SCENE, "--window", "0,0,5000,5000"],
             ["train", "--dataset", "fashion-mnist", "-o", "x.h5", "--epochs", "0"]):
    p = run(*args)
    check(p.returncode == 1 and "--help" in p.stderr,
          "bad option value, exit 1 with the usage hint: " + " ".join(args[:1] + args[3:]),
          "exit %d: %s" % (p.returncode, p.stderr))

finish()
