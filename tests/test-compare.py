#!/usr/bin/python3
"""`mirada compare MODEL_A MODEL_B IMAGE` (issue 19): its per-window
probabilities equal what `mirada detect --save-grid` gives for each model
alone (the same windows, classified separately), its top-1 classes and
agreement rate follow from them, and a model against itself agrees on
every window.

    test-compare.py MIRADA SRCROOT          Prints TAP.
"""
import json
import os
import subprocess
import sys
import tempfile

from pngio import png_read, png_write
from tap import check, finish

MIRADA = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
A = os.path.join(SRC, "resources", "default", "model.h5")
B = os.path.join(SRC, "tests", "data", "cli", "tiny_softmax.h5")
SCENE = os.path.join(SRC, "resources", "default", "scene.png")
TOL = 1e-6  # the same engine path twice: equal up to float printing


def run(*args):
    p = subprocess.run([MIRADA] + list(args), capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


with tempfile.TemporaryDirectory() as tmp:
    grids = []
    for i, m in enumerate((A, B)):
        path = os.path.join(tmp, "grid%d.json" % i)
        rc, out, err = run("detect", m, SCENE, "-w", "150", "-s", "100", "--save-grid", path)
        check(rc == 0, "detect --save-grid of model %d" % i, err)
        grids.append(json.load(open(path)) if rc == 0 else {"probs": [], "classes": []})

    rc, out, err = run("compare", A, B, SCENE, "-w", "150", "-s", "100", "--json")
    got = json.loads(out) if rc == 0 else {}
    wins = got.get("windows", [])
    check(rc == 0 and len(wins) == len(grids[0]["probs"]) == len(grids[1]["probs"]) > 0,
          "one entry per window, as many as detect's grid (%d)" % len(wins), err)
    worst = 0.0
    top_ok = True
    agree = 0
    for w in wins:
        n = w["index"]
        for key, g in (("a", grids[0]), ("b", grids[1])):
            ref = g["probs"][n]
            probs = w[key]["probabilities"]
            worst = max([worst] + [abs(p - r) for p, r in zip(probs, ref)])
            best = max(range(len(ref)), key=lambda k: ref[k])
            top_ok &= w[key]["class"] == best and len(probs) == len(ref)
            if g["classes"]:
                top_ok &= w[key]["label"] == g["classes"][best]
        la, lb = w["a"]["label"], w["b"]["label"]
        same = (la.strip().casefold() == lb.strip().casefold()) if la and lb \
            else w["a"]["class"] == w["b"]["class"]
        top_ok &= w["agree"] == same
        agree += same
    check(wins and worst <= TOL,
          "probabilities equal detect --save-grid's, model by model (worst %.2g <= %g)"
          % (worst, TOL))
    check(wins and top_ok, "top-1 class, label and agreement follow from the probabilities")
    check(wins and abs(got["agreement"] - agree / len(wins)) < 1e-12,
          "agreement rate = windows agreeing / windows (%d of %d)" % (agree, len(wins)))

    # ... and two separate `predict` runs on the windows cut out (lossless
    # PNG crops, numpy slicing): the same probabilities, model by model
    if wins:
        scene = png_read(SCENE)
        crops = os.path.join(tmp, "crops")
        os.mkdir(crops)
        for w in wins:
            x, y, side, _ = w["box"]
            png_write(os.path.join(crops, "w%04d.png" % w["index"]), scene[y:y + side, x:x + side])
        worst_p = 0.0
        n_seen = 0
        for key, m in (("a", A), ("b", B)):
            rc, out, err = run("predict", m, crops, "--json", "-k", "1000")
            check(rc == 0, "predict on the %d window crops with model %s" % (len(wins), key), err)
            for img in (json.loads(out)["images"] if rc == 0 else []):
                n = int(os.path.basename(img["image"])[1:5])
                probs = wins[n][key]["probabilities"]
                for pr in img["predictions"]:
                    worst_p = max(worst_p, abs(pr["probability"] - probs[pr["class"]]))
                    n_seen += 1
        check(n_seen == sum(len(w[k]["probabilities"]) for w in wins for k in "ab")
              and worst_p <= 1e-5,
              "compare's probabilities = two separate predict runs on the windows "
              "(%d values, worst %.2g <= 1e-5)" % (n_seen, worst_p))

    rc, out, err = run("compare", A, A, SCENE, "-w", "150", "-s", "100")
    check(rc == 0 and "(100.0%)" in out, "a model against itself agrees everywhere", out + err)
    rc, out, err = run("compare", A, B, SCENE, "-w", "2000")
    check(rc != 0 and err.strip(), "a window larger than the photo: a clear error", err)
    rc, out, err = run("compare", A, SCENE)
    check(rc != 0 and "MODEL_A" in err, "two arguments: a usage error", err)
finish()
