#!/usr/bin/python3
"""Independent reference for Mirada's detector filter (methods 1, 2.1, 2.2).

Written from the seed report's equations 1-4 and from the seed notebook's
code (cells "Para perros" / "Para gatos" / "Uso de filtro de media"), not
from Mirada's C code.  The notebook-compatible path below is the notebook's
own loop (cord_mat, try/except, prob_pygs[p, c] with the loop counter p),
generalised only to any radius and class.

Usage: detect_reference.py TOOL   (TOOL = build/tests/detect-filter-tool)
       detect_reference.py --e2e MIRADA SRCDIR

Generates random probability grids with fixed seeds (among them the
notebook's 7x16 layout), runs the reference and TOOL on each with several
settings, and compares candidates, neighbourhood means, mu and the final
windows (means and mu to 1e-6).  Then several grids of one image (the
scales of a multi-scale run: window sides or pyramid levels): the filters
per grid, the passed boxes of all grids pooled, NMS or merging across
scales, written here from docs/detector.md; box coordinates to 1e-6.
Exit status 0 when all agree.

The field (issue 18, mir_detect_field_new, printed by TOOL as "fields"):
for every window of every class, P (exactly the grid's value), the
neighbourhood mean with f_e and without it (the neighbours inside the grid
only), the number of neighbours outside, filter 1's and filter 2's
decisions (which must also be the windows of the boxes) and whether f_e
rescued or rejected the window (mu held), all recomputed here (means 1e-6).

--e2e: the default model on the 20 evaluation scenes (mirada scene --count
20 --seed 100), single scale and multi-scale: mirada classifies and saves
its grids (--save-grid), this reference filters, pools, groups and
evaluates them (precision, recall, F1 at IoU 0.5) and must agree with
mirada's own evaluation scene by scene; the means are printed.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

TOL = 1e-6


# ----------------------------------------------------------------------
# Reference

def filter1(probs, c, threshold, notebook):
    """Equation 1: windows n with P_n(c) >= P(c).  The notebook compares a
    float32 array with a Python float, which NumPy 1.x does in float32."""
    col = probs[:, c]
    if notebook:
        keep = col >= np.float32(threshold)
    else:
        keep = col.astype(np.float64) >= threshold
    return [int(n) for n in np.where(keep)[0]]


def means_equations(probs, rows, cols, c, kept, fe, radius, complement):
    """Equation 2 with a border of f_e around the grid."""
    v = probs[:, c].astype(np.float64).reshape(rows, cols)
    if complement:
        v = 1.0 - v
    padded = np.pad(v, radius, mode="constant", constant_values=fe)
    out = []
    for n in kept:
        i, j = divmod(n, cols)
        block = padded[i:i + 2 * radius + 1, j:j + 2 * radius + 1]
        out.append(float(block.mean()))
    return out


def means_notebook(probs, rows, cols, c, kept, fe, radius, complement):
    """The notebook's loop.  cord_mat is a nested Python list so that
    indexing behaves exactly like the notebook's cord_mat[xx-1][yy+1]
    (negative indices wrap, too-large ones raise IndexError)."""
    cord_mat = np.reshape(np.arange(rows * cols), (rows, cols))
    prob = probs.astype(np.float64)
    if complement:
        prob = 1.0 - prob
    out = []
    for p in range(len(kept)):
        xx, yy = np.where(cord_mat == kept[p])
        xx = int(xx[0])
        yy = int(yy[0])
        values = []
        try:
            values.append(prob[p, c])          # the loop counter, not kept[p]
        except IndexError:
            values.append(fe)
        for di in range(-radius, radius + 1):
            for dj in range(-radius, radius + 1):
                if di == 0 and dj == 0:
                    continue
                try:
                    values.append(prob[cord_mat[xx + di][yy + dj], c])
                except IndexError:
                    values.append(fe)
        out.append(float(np.mean(values)))
    return out


def reference(probs, rows, cols, method, thresholds, fes, complements, radius, notebook):
    """Returns {"mu": [...], "candidates": {(c, n): mean}, "passed": set((c, n))}."""
    k = probs.shape[1]
    mu = [None] * k
    candidates = {}
    passed = set()
    for c in range(k):
        kept = filter1(probs, c, thresholds[c], notebook)
        if method == "1":
            for n in kept:
                candidates[(c, n)] = None
                passed.add((c, n))
            continue
        if not kept:
            continue
        complement = method == "2.1" and complements[c]
        fn = means_notebook if notebook else means_equations
        means = fn(probs, rows, cols, c, kept, fes[c], radius, complement)
        m = (max(means) + min(means)) / 2          # equation 3
        mu[c] = m
        for n, mean in zip(kept, means):
            candidates[(c, n)] = mean
            if mean >= m:                          # equation 4
                passed.add((c, n))
    return {"mu": mu, "candidates": candidates, "passed": passed}


# ----------------------------------------------------------------------
# Comparison with Mirada

def write_grid(path, probs, rows, cols, notebook_layout, names):
    window, stride = 150, 40
    width = window + stride * (cols - 1 + (1 if notebook_layout else 0))
    height = window + stride * (rows - 1)
    data = {
        "image_width": width, "image_height": height, "window": window, "stride": stride,
        "notebook_layout": notebook_layout, "classes": names,
        "probs": [[float(x) for x in row] for row in probs],
    }
    with open(path, "w") as f:
        json.dump(data, f)


def run_tool(tool, grid_path, method, thresholds, fes, complements, radius, notebook, names):
    args = [tool, grid_path, "--method", method, "--radius", str(radius)]
    for c, name in enumerate(names):
        args += ["--threshold", "%s=%r" % (name, thresholds[c])]
        args += ["--exception", "%s=%r" % (name, fes[c])]
        args += ["--complement" if complements[c] else "--no-complement", name]
    if notebook:
        args.append("--notebook-compat")
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def compare(label, ref, got):
    errors = []
    for c, (a, b) in enumerate(zip(ref["mu"], got["mu"])):
        if (a is None) != (b is None) or (a is not None and abs(a - b) > TOL):
            errors.append("mu[%d]: reference %r, mirada %r" % (c, a, b))
    got_cand = {(b["class"], b["window"]): b for b in got["candidates"]}
    if set(got_cand) != set(ref["candidates"]):
        errors.append("filter 1: reference %s, mirada %s"
                      % (sorted(ref["candidates"]), sorted(got_cand)))
    for key, mean in ref["candidates"].items():
        if key not in got_cand:
            continue
        m = got_cand[key]["mean"]
        if (mean is None) != (m is None) or (mean is not None and abs(mean - m) > TOL):
            errors.append("mean %s: reference %r, mirada %r" % (key, mean, m))
    got_passed = {(b["class"], b["window"]) for b in got["boxes"]}
    if got_passed != ref["passed"]:
        errors.append("filter 2: reference %s, mirada %s"
                      % (sorted(ref["passed"]), sorted(got_passed)))
    if errors:
        print("FAIL %s" % label)
        for e in errors[:10]:
            print("  " + e)
        return False
    print("ok %s (%d candidates, %d boxes)" % (label, len(ref["candidates"]), len(ref["passed"])))
    return True


def field_means(probs, rows, cols, c, fe, radius, complement, notebook, kept):
    """Means of every window (not only the kept ones), with f_e, without it
    (inside neighbours only), and the count of neighbours outside.  The
    notebook reads a window's centre at its rank among the kept windows."""
    prob = probs.astype(np.float64)
    if complement:
        prob = 1.0 - prob
    cord_mat = [list(range(r * cols, (r + 1) * cols)) for r in range(rows)]
    kept_set = set(kept)
    with_fe, inside, outside = [], [], []
    rank = 0
    for n in range(rows * cols):
        i, j = divmod(n, cols)
        vals, ins, out = [], [], 0
        for di in range(-radius, radius + 1):
            for dj in range(-radius, radius + 1):
                if notebook:
                    if di == 0 and dj == 0:
                        v = prob[rank, c]
                    else:
                        try:
                            v = prob[cord_mat[i + di][j + dj], c]
                        except IndexError:
                            v = None
                else:
                    a, b = i + di, j + dj
                    v = prob[a * cols + b, c] if 0 <= a < rows and 0 <= b < cols else None
                if v is None:
                    out += 1
                    vals.append(fe)
                else:
                    vals.append(v)
                    ins.append(v)
        with_fe.append(float(np.mean(vals)))
        inside.append(float(np.mean(ins)))
        outside.append(out)
        if n in kept_set:
            rank += 1
    return with_fe, inside, outside


def compare_fields(label, probs, rows, cols, method, thresholds, fes, complements, radius,
                   notebook, ref, got):
    errors = []
    got_boxes = {(b["class"], b["window"]) for b in got["boxes"]}
    for c, field in enumerate(got["fields"]):
        kept = filter1(probs, c, thresholds[c], notebook)
        n = rows * cols
        if any(field["prob"][w] != float(probs[w, c]) for w in range(n)):
            errors.append("field %d: P differs from the grid" % c)
        f1 = {w for w in range(n) if field["filter1"][w]}
        f2 = {w for w in range(n) if field["filter2"][w]}
        if f1 != set(kept):
            errors.append("field %d filter 1: reference %s, mirada %s" % (c, kept, sorted(f1)))
        ref_f2 = {w for (k, w) in ref["passed"] if k == c}
        box_f2 = {w for (k, w) in got_boxes if k == c}
        if f2 != ref_f2 or f2 != box_f2:
            errors.append("field %d filter 2: reference %s, boxes %s, field %s"
                          % (c, sorted(ref_f2), sorted(box_f2), sorted(f2)))
        mu = ref["mu"][c]
        if (mu is None) != (field["mu"] is None) or (mu is not None and
                                                     abs(mu - field["mu"]) > TOL):
            errors.append("field %d mu: reference %r, mirada %r" % (c, mu, field["mu"]))
        if method == "1":
            if any(m is not None for m in field["mean"] + field["mean_inside"]):
                errors.append("field %d: method 1 has no means" % c)
            if any(field["edge"]):
                errors.append("field %d: method 1 has no f_e effect" % c)
            continue
        complement = method == "2.1" and complements[c]
        with_fe, inside, outside = field_means(probs, rows, cols, c, fes[c], radius,
                                               complement, notebook, kept)
        for w in range(n):
            if abs(with_fe[w] - field["mean"][w]) > TOL:
                errors.append("field %d mean[%d]: reference %r, mirada %r"
                              % (c, w, with_fe[w], field["mean"][w]))
            if abs(inside[w] - field["mean_inside"][w]) > TOL:
                errors.append("field %d mean without f_e [%d]: reference %r, mirada %r"
                              % (c, w, inside[w], field["mean_inside"][w]))
            if outside[w] != field["n_outside"][w]:
                errors.append("field %d outside[%d]: reference %d, mirada %d"
                              % (c, w, outside[w], field["n_outside"][w]))
            edge = 0
            if w in kept and outside[w] > 0 and mu is not None:
                a, b = with_fe[w] >= mu, inside[w] >= mu
                edge = 1 if a and not b else 2 if b and not a else 0
            if edge != field["edge"][w]:
                errors.append("field %d f_e effect [%d]: reference %d, mirada %d"
                              % (c, w, edge, field["edge"][w]))
    if errors:
        print("FAIL field %s" % label)
        for e in errors[:10]:
            print("  " + e)
        return False
    n_edge = sum(1 for f in got["fields"] for e in f["edge"] if e)
    print("ok field %s (%d windows where f_e decides)" % (label, n_edge))
    return True


def random_grid(rng, n, k, peaky):
    """Softmax-like rows (k > 1) or sigmoid pairs [1 - P, P]; float32."""
    if k == 2 and not peaky:
        p = rng.random(n).astype(np.float32)
        return np.stack([np.float32(1) - p, p], axis=1).astype(np.float32)
    logits = rng.normal(0, 3 if peaky else 1, size=(n, k))
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


# ----------------------------------------------------------------------
# Several scales (grids of one image), pooled before grouping

def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = min(ax + aw, bx + bw) - max(ax, bx)
    ih = min(ay + ah, by + bh) - max(ay, by)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter)


def window_box(grid, n):
    """Window n of a grid in the original image's pixels: the grid's own
    pixels (of the shrunk image for a pyramid level) times its scale."""
    rows_cols = grid_shape(grid)
    cols = rows_cols[1]
    row, col = divmod(n, cols)
    f = grid.get("scale", 1.0)
    s, w = grid["stride"], grid["window"]
    return (col * s * f, row * s * f, w * f, w * f)


def grid_shape(grid):
    rows = (grid["image_height"] - grid["window"]) // grid["stride"] + 1
    cols = (grid["image_width"] - grid["window"]) // grid["stride"] + 1
    if grid.get("notebook_layout"):
        cols -= 1
    return rows, cols


def group(boxes, mode, thr):
    """boxes: dicts with class, scale, window, prob, box.  NMS: most
    probable first (ties: lower scale, then lower window), drop same-class
    boxes with IoU > thr.  Merge: same-class boxes linked by IoU > thr,
    transitively, become one box: corners weighted by probability, the most
    probable member's identity, the member count."""
    order = lambda b: (b["class"], -b["prob"], b["scale"], b["window"])
    if mode == "none":
        return [dict(b, members=1) for b in boxes]
    out = []
    for c in sorted({b["class"] for b in boxes}):
        mine = sorted([b for b in boxes if b["class"] == c], key=order)
        if mode == "nms":
            alive = [True] * len(mine)
            for i, b in enumerate(mine):
                if not alive[i]:
                    continue
                out.append(dict(b, members=1))
                for k in range(i + 1, len(mine)):
                    if alive[k] and iou(b["box"], mine[k]["box"]) > thr:
                        alive[k] = False
            continue
        # merge: connected components of the "IoU > thr" graph
        label = list(range(len(mine)))
        changed = True
        while changed:
            changed = False
            for i in range(len(mine)):
                for k in range(i + 1, len(mine)):
                    if iou(mine[i]["box"], mine[k]["box"]) > thr and label[i] != label[k]:
                        lo = min(label[i], label[k])
                        old = max(label[i], label[k])
                        label = [lo if v == old else v for v in label]
                        changed = True
        for root in sorted(set(label)):
            members = [mine[i] for i in range(len(mine)) if label[i] == root]
            top = members[0]                      # mine is sorted: most probable first
            ws = [m["prob"] if top["prob"] > 0 else 1.0 for m in members]
            sw = sum(ws)
            x1 = sum(w * m["box"][0] for w, m in zip(ws, members)) / sw
            y1 = sum(w * m["box"][1] for w, m in zip(ws, members)) / sw
            x2 = sum(w * (m["box"][0] + m["box"][2]) for w, m in zip(ws, members)) / sw
            y2 = sum(w * (m["box"][1] + m["box"][3]) for w, m in zip(ws, members)) / sw
            out.append(dict(top, box=(x1, y1, x2 - x1, y2 - y1), members=len(members)))
    return out


def reference_scales(grids, method, thresholds, fes, complements, radius, notebook, mode, thr):
    """Filters per grid (each its own neighbourhoods and mu), passed boxes
    pooled, then grouped.  Returns {"mu": [[per class] per scale], "boxes": [...]}."""
    mus, pooled = [], []
    for s, g in enumerate(grids):
        probs = np.array(g["probs"], dtype=np.float32)
        rows, cols = grid_shape(g)
        ref = reference(probs, rows, cols, method, thresholds, fes, complements, radius,
                        notebook)
        mus.append(ref["mu"])
        for (c, n) in sorted(ref["passed"]):
            pooled.append({"class": c, "scale": s, "window": n,
                           "prob": float(probs[n, c]), "box": window_box(g, n)})
    return {"mu": mus, "boxes": group(pooled, mode, thr)}


def compare_scales(label, ref, got):
    errors = []
    for s, (ra, ga) in enumerate(zip(ref["mu"], got["mu_scales"])):
        for c, (a, b) in enumerate(zip(ra, ga)):
            if (a is None) != (b is None) or (a is not None and abs(a - b) > TOL):
                errors.append("mu[scale %d][%d]: reference %r, mirada %r" % (s, c, a, b))
    key = lambda b: (b["class"], b["scale"], b["window"])
    rb = {key(b): b for b in ref["boxes"]}
    gb = {key(b): b for b in got["boxes"]}
    if set(rb) != set(gb):
        errors.append("boxes: reference %s, mirada %s" % (sorted(rb), sorted(gb)))
    for k in set(rb) & set(gb):
        if rb[k]["members"] != gb[k]["members"]:
            errors.append("%s: %d members, mirada %d" % (k, rb[k]["members"], gb[k]["members"]))
        if max(abs(a - b) for a, b in zip(rb[k]["box"], gb[k]["box"])) > TOL:
            errors.append("%s: box %s, mirada %s" % (k, rb[k]["box"], gb[k]["box"]))
    if errors:
        print("FAIL %s" % label)
        for e in errors[:10]:
            print("  " + e)
        return False
    print("ok %s (%d boxes)" % (label, len(ref["boxes"])))
    return True


def scale_cases(tmp):
    """(label, [grid dicts], [paths]) for a few multi-scale layouts."""
    cases = []
    # window sides 100, 150 on a 310x230 image; a pyramid 1.25^l, window 60,
    # stride 20 on a 200x160 image: levels 200x160, 160x128, 128x102
    layouts = [
        ("windows 100,150", [(310, 230, 100, 40, 1.0), (310, 230, 150, 40, 1.0)]),
        ("windows 60,80,120", [(300, 200, 60, 20, 1.0), (300, 200, 80, 20, 1.0),
                               (300, 200, 120, 20, 1.0)]),
        ("pyramid 1.25 x3", [(200, 160, 60, 20, 1.0), (160, 128, 60, 20, 1.25),
                             (128, 102, 60, 20, 1.5625)]),
    ]
    for k, (label, specs) in enumerate(layouts):
        rng = np.random.default_rng(100 + k)
        grids, paths = [], []
        for s, (w, h, win, stride, f) in enumerate(specs):
            g = {"image_width": w, "image_height": h, "window": win, "stride": stride,
                 "notebook_layout": False, "classes": ["dog", "cat"]}
            if f != 1.0:
                g["scale"] = f
            rows, cols = grid_shape(g)
            g["probs"] = [[float(x) for x in row]
                          for row in random_grid(rng, rows * cols, 2, True)]
            path = os.path.join(tmp, "scales-%d-%d.json" % (k, s))
            with open(path, "w") as fp:
                json.dump(g, fp)
            with open(path) as fp:   # what the file holds
                grids.append(json.load(fp))
            paths.append(path)
        cases.append((label, grids, paths))
    return cases


# ----------------------------------------------------------------------
# End to end: the default model on the 20 evaluation scenes

def evaluate(boxes, truth, names, thr=0.5):
    """docs/detector.md: one-to-one, most probable detection first, to the
    unmatched same-class truth box of largest IoU >= thr."""
    gt = [(names.index(o["class"]) if isinstance(o["class"], str) and o["class"] in names
           else int(o["class"]), tuple(o["box"])) for o in truth["objects"]]
    used = [False] * len(gt)
    tp = 0
    for b in sorted(boxes, key=lambda b: (-b["prob"], b["class"], b["scale"], b["window"])):
        best, best_iou = -1, thr
        for k, (c, box) in enumerate(gt):
            if used[k] or c != b["class"]:
                continue
            v = iou(b["box"], box)
            if v >= best_iou:
                if best < 0 or v > best_iou:
                    best, best_iou = k, v
        if best >= 0:
            used[best] = True
            tp += 1
    p = tp / len(boxes) if boxes else 1.0
    r = tp / len(gt) if gt else 1.0
    f = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return tp, len(boxes), len(gt), p, r, f


def e2e(mirada, src):
    model = os.path.join(src, "resources", "default", "model.h5")
    scale_sets = [
        ("single scale, window 150", []),
        ("windows 120,150,180", ["--windows", "120,150,180"]),
        ("pyramid window 150, factor 1.25, 3 levels", ["--scale-factor", "1.25", "--levels", "3"]),
    ]
    n_classes = 11
    settings = [
        ("method 1, threshold 0.7, NMS",
         "1", [0.7] * n_classes, "nms"),
        ("method 2.2, threshold 0.9, merge",
         "2.2", [0.9] * n_classes, "merge"),
    ]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([mirada, "scene", "--count", "20", "--seed", "100", "--out-dir", tmp,
                        "--prefix", "eval"], check=True, capture_output=True)
        for sname, sargs in scale_sets:
            for setname, method, thresholds, mode in settings:
                sums = np.zeros(3)
                for k in range(20):
                    base = os.path.join(tmp, "eval-%03d" % k)
                    gpath = os.path.join(tmp, "g%03d.json" % k)
                    args = [mirada, "detect", model, base + ".png", "--truth", base + ".json",
                            "--json", "--method", method, "--group", mode,
                            "--save-grid", gpath] + sargs
                    for c, t in enumerate(thresholds):
                        args += ["--threshold", "%d=%r" % (c, t)]
                    got = json.loads(subprocess.run(args, check=True, capture_output=True,
                                                    text=True).stdout)
                    n = len(got["scales"])
                    paths = [gpath] if n == 1 else [
                        os.path.join(tmp, "g%03d.%d.json" % (k, s)) for s in range(n)]
                    grids = []
                    for path in paths:
                        with open(path) as fp:
                            grids.append(json.load(fp))
                    names = grids[0]["classes"]
                    # "background" is not looked for (threshold above 1)
                    thr = [2.0 if names[c] == "background" else t
                           for c, t in enumerate(thresholds)]
                    ref = reference_scales(grids, method, thr, [0.5] * n_classes,
                                           [False] * n_classes, 1, False, mode, 0.3)
                    with open(base + ".json") as fp:
                        truth = json.load(fp)
                    tp, nd, nt, p, r, f = evaluate(ref["boxes"], truth, names)
                    ev = got["evaluation"]
                    if (tp, nd, nt) != (ev["true_positives"], ev["detected"], ev["truth"]) \
                            or abs(f - ev["f1"]) > 1e-9:
                        ok = False
                        print("FAIL %s, %s, scene %d: reference TP %d of %d detections, %d "
                              "truth; mirada %d of %d, %d"
                              % (sname, setname, k, tp, nd, nt, ev["true_positives"],
                                 ev["detected"], ev["truth"]))
                    sums += (p, r, f)
                mp, mr, mf = sums / 20
                print("20 scenes, %s, %s: mean precision %.3f recall %.3f F1 %.3f"
                      % (sname, setname, mp, mr, mf))
    return 0 if ok else 1


def main():
    if sys.argv[1] == "--e2e":
        return e2e(sys.argv[2], sys.argv[3])
    tool = sys.argv[1]
    ok = True
    cases = [
        # seed, rows, cols, notebook layout, classes, peaky
        (1, 7, 16, True, ["perro", "gato"], True),   # the notebook's 7x16 = 112 windows
        (2, 7, 16, True, ["perro", "gato"], False),
        (3, 4, 5, False, ["dog", "cat"], True),
        (4, 6, 9, False, ["a", "b", "c"], True),
        (5, 1, 6, False, ["x", "y"], True),          # a single row
    ]
    settings = [
        # method, thresholds, exception factors, radius, notebook mode
        ("1", 0.9, 0.5, 1, False),
        ("2.2", 0.9, 0.5, 1, False),
        ("2.1", 0.9, 0.5, 1, False),
        ("2.2", 0.7, 0.0, 1, False),
        ("2.2", 0.7, 1.0, 2, False),
        ("2.2", 0.9, 0.5, 1, True),
        ("2.1", 0.9, 0.5, 1, True),
        ("2.2", 0.8, 1.0, 1, True),
        ("2.2", 0.6, 0.0, 2, True),
        ("2.1", 0.98, 0.4, 1, True),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for seed, rows, cols, nb_layout, names, peaky in cases:
            rng = np.random.default_rng(seed)
            k = len(names)
            probs = random_grid(rng, rows * cols, k, peaky)
            path = os.path.join(tmp, "grid-%d.json" % seed)
            write_grid(path, probs, rows, cols, nb_layout, names)
            # read back what the file holds (float32 round trip)
            with open(path) as f:
                probs = np.array(json.load(f)["probs"], dtype=np.float32)
            for method, thr, fe, radius, notebook in settings:
                thresholds = [thr] * k
                # a different f_e for class 1, as in the seed's tables
                fes = [fe] + [round(1.0 - fe / 2, 3)] * (k - 1)
                complements = [c == 1 for c in range(k)]
                ref = reference(probs, rows, cols, method, thresholds, fes, complements,
                                radius, notebook)
                got = run_tool(tool, path, method, thresholds, fes, complements, radius,
                               notebook, names)
                label = "seed %d %dx%d method %s P=%g fe=%s r=%d%s" % (
                    seed, rows, cols, method, thr, fes, radius, " notebook" if notebook else "")
                ok = compare(label, ref, got) and ok
                ok = compare_fields(label, probs, rows, cols, method, thresholds, fes,
                                    complements, radius, notebook, ref, got) and ok
        for label, grids, paths in scale_cases(tmp):
            for method, thr, fe in (("1", 0.6, 0.5), ("2.2", 0.6, 0.5), ("2.1", 0.8, 0.0)):
                for mode, iou_thr in (("none", 0.3), ("nms", 0.3), ("merge", 0.3),
                                      ("nms", 0.1), ("merge", 0.5)):
                    thresholds, fes = [thr, thr], [fe, 1.0 - fe]
                    complements = [False, True]
                    ref = reference_scales(grids, method, thresholds, fes, complements, 1,
                                           False, mode, iou_thr)
                    args = [tool] + paths + ["--method", method, "--group", mode,
                                             "--iou", repr(iou_thr)]
                    for c, name in enumerate(["dog", "cat"]):
                        args += ["--threshold", "%s=%r" % (name, thresholds[c]),
                                 "--exception", "%s=%r" % (name, fes[c]),
                                 "--complement" if complements[c] else "--no-complement", name]
                    got = json.loads(subprocess.run(args, check=True, capture_output=True,
                                                    text=True).stdout)
                    ok = compare_scales("%s method %s %s IoU %g" % (label, method, mode,
                                                                    iou_thr), ref, got) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
