#!/usr/bin/python3
"""Background and classes by example (issue 18), end to end on a real-photo
scene with a CIFAR-10 model that has no background class:

 - the embeddings `mirada detect --save-grid` keeps are the input of the
   model's head: softmax(E · kernel + bias), with the Dense weights read
   from the .h5 by h5py, gives the grid's probabilities (tolerance 1e-4);
 - the rule (nearest example by cosine distance, Otsu split per label,
   background rejects, a new class gets 1 − d / 2τ) recomputed in numpy
   from those embeddings gives the boxes `--add-background` and
   `--add-example` give (method 1, no grouping: every window whose P passes);
 - the mean rule likewise (--example-rule mean);
 - --save-examples / --examples give the same boxes again, on the grid file
   (--grid) and on the model; --save-examples-to-sidecar keeps the other
   sidecar members and the next run uses the examples;
 - up to two background clicks on the most probable false boxes (those on
   blank background) raise F1 against
   the scene's ground truth (clicks chosen from the truth, as the F1 table
   of tests/gen/detect-examples-f1.py does);
 - bad examples are errors a user can act on (exit 1 or 2, no crash).

    test-detect-examples.py MIRADA SRCROOT          Prints TAP.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

from tap import check, finish

MIRADA = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
MODEL = os.path.join(SRC, "tests", "data", "models", "mlcommons__pretrainedResnet.h5")
SCENES = os.path.join(SRC, "tests", "data", "photo-scenes")
LABELS = os.path.join(SCENES, "cifar10.labels.txt")
SCENE = 4  # textured background: three animals (eagle, cat, horse)
IMAGE = os.path.join(SCENES, "photo-%d.jpg" % SCENE)
TRUTH = os.path.join(SCENES, "photo-%d.json" % SCENE)
TOL_P = 1e-4   # float32 head in Mirada vs float64 numpy, printed with 17 digits
TOL_SCORE = 1e-5


def run(*args):
    p = subprocess.run([MIRADA] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=300)
    return p.returncode, p.stdout, p.stderr


def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / (aw * ah + bw * bh - inter)


def rects(g):
    w, s = g["window"], g["stride"]
    cols = (g["image_width"] - w) // s + 1
    return [((n % cols) * s, (n // cols) * s, w, w) for n in range(len(g["probs"]))]


def window_at(g, x, y):
    best, found = None, None
    for n, (wx, wy, w, _h) in enumerate(rects(g)):
        if wx <= x < wx + w and wy <= y < wy + w:
            d = (x - wx - w / 2) ** 2 + (y - wy - w / 2) ** 2
            if best is None or d < best:
                best, found = d, n
    return found


def otsu(v):
    s = np.sort(v)
    n = len(s)
    tau, best, below, total = s[-1], -1.0, 0.0, s.sum()
    for k in range(1, n):
        below += s[k - 1]
        if s[k] == s[k - 1]:
            continue
        m0, m1 = below / k, (total - below) / (n - k)
        var = k * (n - k) * (m1 - m0) ** 2
        if var > best:
            best, tau = var, s[k - 1]
    return tau


def cosine(a, b):
    na, nb = np.linalg.norm(a, axis=-1), np.linalg.norm(b)
    return 1.0 - (a @ b) / (na * nb)


def reference_boxes(g, examples, rule, threshold):
    """[(window, class name, P)] the examples' rule gives, method 1, no grouping."""
    E = np.array(g["embeddings"], dtype=np.float64)
    P = np.array(g["probs"], dtype=np.float64)
    names = list(g["classes"])
    labels = []
    for label, _n in examples:
        if label not in labels:
            labels.append(label)
    dist, tau, column = {}, {}, {}
    for label in labels:
        protos = [E[n] for lab, n in examples if lab == label]
        if rule == "mean" and len(protos) > 1:
            protos = [np.mean([p / np.linalg.norm(p) for p in protos], axis=0)]
        d = np.min([cosine(E, p) for p in protos], axis=0)
        dist[label], tau[label] = d, otsu(d)
        if label not in names:
            names.append(label)
        column[label] = names.index(label)
    out = np.zeros((len(P), len(names)))
    out[:, :P.shape[1]] = P
    for n in range(len(P)):
        near = [l for l in labels if dist[l][n] <= tau[l]]
        if not near:
            continue
        best = min(near, key=lambda l: (dist[l][n], labels.index(l)))
        keep = out[n, column[best]]
        out[n, :] = 0
        if best == "background":
            out[n, column[best]] = 1
        else:
            score = min(1.0, max(0.5, 1 - dist[best][n] / (2 * tau[best])))
            out[n, column[best]] = max(keep, score)
    boxes = []
    for n in range(len(P)):
        for c, name in enumerate(names):
            if name != "background" and out[n, c] >= threshold:
                boxes.append((n, name, out[n, c]))
    return boxes


def got_boxes(out):
    return [(b["window"], b["class"], b["probability"]) for b in json.loads(out)["objects"]]


def same_boxes(a, b):
    if sorted((n, c) for n, c, _p in a) != sorted((n, c) for n, c, _p in b):
        return False, "windows differ: %s vs %s" % (sorted(a)[:8], sorted(b)[:8])
    pa = {(n, c): p for n, c, p in a}
    worst = max([abs(pa[(n, c)] - p) for n, c, p in b] or [0])
    return worst <= TOL_SCORE, "largest P difference %g" % worst


def false_boxes(boxes, truth):
    used, false = set(), []
    for b in sorted(boxes, key=lambda b: -b["probability"]):
        match = None
        for i, t in enumerate(truth):
            if i not in used and t["class"] == b["class"] and iou(b["box"], t["box"]) >= 0.5:
                match = i
                break
        if match is None:
            false.append(b)
        else:
            used.add(match)
    return false


with tempfile.TemporaryDirectory() as tmp:
    grid_path = os.path.join(tmp, "grid.json")
    rc, out, err = run("detect", MODEL, IMAGE, "--labels", LABELS, "--save-grid", grid_path,
                       "--json")
    check(rc == 0, "detect --save-grid", err)
    g = json.load(open(grid_path)) if rc == 0 else {"probs": [], "embeddings": []}

    # 1. the embeddings are the head's input
    with h5py.File(MODEL, "r") as f:
        kernel = np.array(f["model_weights/dense/dense/kernel:0"], dtype=np.float64)
        bias = np.array(f["model_weights/dense/dense/bias:0"], dtype=np.float64)
    E = np.array(g.get("embeddings", []), dtype=np.float64)
    ok = E.ndim == 2 and E.shape == (len(g["probs"]), kernel.shape[0])
    check(ok, "one embedding of %d values per window" % kernel.shape[0],
          "shape %s" % (E.shape,))
    if ok:
        z = E @ kernel + bias
        z = np.exp(z - z.max(axis=1, keepdims=True))
        ref = z / z.sum(axis=1, keepdims=True)
        diff = np.abs(ref - np.array(g["probs"])).max()
        check(diff <= TOL_P, "softmax(embedding · kernel + bias) = the grid's P (max diff %.2g)"
              % diff)
    check(g.get("embedding_layer") == "flatten", "the embedding layer is the head's input",
          str(g.get("embedding_layer")))

    # 2. the rule, against numpy; clicks: two blank corners, one new class on the horse
    truth = json.load(open(TRUTH))["objects"]
    horse = [t for t in truth if t["class"] == "horse"][0]["box"]
    pts = [("background", (20, 380)), ("background", (780, 20)),
           ("pony", (horse[0] + horse[2] / 2, horse[1] + horse[3] / 2))]
    examples = [(label, window_at(g, x, y)) for label, (x, y) in pts]
    cli = []
    for label, (x, y) in pts:
        if label == "background":
            cli += ["--add-background", "%g,%g" % (x, y)]
        else:
            cli += ["--add-example", "%s=%g,%g" % (label, x, y)]
    ex_path = os.path.join(tmp, "examples.json")
    for rule in ("nearest", "mean"):
        rc, out, err = run("detect", "--grid", grid_path, "--json", "-m", "1", "-t", "0.5",
                           "-g", "none", "--example-rule", rule, "--save-examples", ex_path, *cli)
        check(rc == 0, "detect --grid with examples (%s)" % rule, err)
        if rc == 0:
            ok, why = same_boxes(got_boxes(out), reference_boxes(g, examples, rule, 0.5))
            check(ok, "boxes = numpy's nearest-prototype rule (%s)" % rule, why)
            check(any(c == "pony" for _n, c, _p in got_boxes(out)),
                  "the new class by example has boxes (%s)" % rule)
    with_points = out

    # 3. the examples file, on the grid and on the model; the sidecar
    saved = json.load(open(ex_path))
    check(len(saved["examples"]) == 3 and all(len(e["embedding"]) == E.shape[1]
                                              for e in saved["examples"]),
          "--save-examples writes 3 examples with their embeddings")
    rc, out, err = run("detect", "--grid", grid_path, "--json", "-m", "1", "-t", "0.5",
                       "-g", "none", "--example-rule", "mean", "--examples", ex_path)
    check(rc == 0 and got_boxes(out) == got_boxes(with_points),
          "--examples FILE gives the same boxes as the clicks", err)
    model = os.path.join(tmp, "cifar.h5")
    shutil.copy(MODEL, model)
    sidecar = os.path.join(tmp, "cifar.mirada.json")
    with open(sidecar, "w") as fh:
        json.dump({"mirada": 1, "preprocess": "none", "later_member": [1, 2]}, fh)
    rc, out, err = run("detect", model, IMAGE, "--labels", LABELS, "--json", "-m", "1",
                       "-t", "0.5", "-g", "none", "--example-rule", "mean", "--examples",
                       ex_path, "--save-examples-to-sidecar")
    check(rc == 0 and got_boxes(out) == got_boxes(with_points),
          "on the model, the examples file gives the same boxes", err)
    side = json.load(open(sidecar))
    check(len(side.get("detector_examples", {}).get("examples", [])) == 3
          and side.get("later_member") == [1, 2] and side.get("preprocess") == "none",
          "the sidecar keeps the examples and its other members", json.dumps(side)[:300])
    rc, out, err = run("detect", model, IMAGE, "--labels", LABELS, "--json", "-m", "1",
                       "-t", "0.5", "-g", "none", "--example-rule", "mean")
    check(rc == 0 and got_boxes(out) == got_boxes(with_points) and "3 examples" in err,
          "the next run uses the sidecar's examples", err)
    rc, out2, err = run("detect", model, IMAGE, "--labels", LABELS, "--json", "-m", "1",
                        "-t", "0.5", "-g", "none", "--no-sidecar-examples")
    check(rc == 0 and not any(c == "pony" for _n, c, _p in got_boxes(out2)),
          "--no-sidecar-examples ignores them", err)

    # 4. background clicks raise F1 (clicks from the ground truth)
    setting = ["-m", "1", "-t", "0.9", "-g", "merge"]
    clicks, f1 = [], []
    for k in range(3):
        args = sum((["--add-background", "%g,%g" % c] for c in clicks), [])
        rc, out, err = run("detect", "--grid", grid_path, "--json", "--truth", TRUTH,
                           *setting, *args)
        res = json.loads(out) if rc == 0 else {"objects": [], "evaluation": {"f1": 0}}
        f1.append(res["evaluation"]["f1"])
        for b in false_boxes(res["objects"], truth):
            x, y, w, h = b["box"]
            if all(iou(b["box"], t["box"]) < 0.2 for t in truth):
                clicks.append((x + w / 2, y + h / 2))
                break
    check(len(clicks) >= 1 and f1[-1] > f1[0],
          "background clicks raise F1 (%s with %d clicks)" % (f1, len(clicks)))

    # 5. bad input
    bad = os.path.join(tmp, "bad.json")
    for text, what in (("{\"examples\": [{\"label\": \"background\"}]}", "no place"),
                       ("{\"examples\": [{\"label\": 3, \"at\": [1, 1]}]}", "label not a string"),
                       ("{\"examples\": [{\"label\": \"x\", \"embedding\": [1, 2]}]}",
                        "embedding of the wrong length"),
                       ("[1, 2", "not JSON")):
        with open(bad, "w") as fh:
            fh.write(text)
        rc, out, err = run("detect", "--grid", grid_path, "--examples", bad)
        check(rc == 2 and "example" in err.lower() or (rc == 2 and "bad.json" in err),
              "a bad examples file (%s) is exit 2 with a message" % what, "%d %s" % (rc, err))
    rc, out, err = run("detect", "--grid", grid_path, "--add-background", "5000,5000")
    check(rc == 1 and "5000" in err, "a point outside the image is a usage error", err)
    rc, out, err = run("detect", "--grid", grid_path, "--add-example", "=3,4")
    check(rc == 1, "--add-example without a label is a usage error", err)
    no_embed = os.path.join(tmp, "noembed.json")
    del g["embeddings"]
    with open(no_embed, "w") as fh:
        json.dump(g, fh)
    rc, out, err = run("detect", "--grid", no_embed, "--add-background", "20,20")
    check(rc == 2 and "embedding" in err, "a grid without embeddings says so", err)

finish()
