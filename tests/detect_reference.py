#!/usr/bin/python3
"""Independent reference for Mirada's detector filter (methods 1, 2.1, 2.2).

Written from the seed report's equations 1-4 and from the seed notebook's
code (cells "Para perros" / "Para gatos" / "Uso de filtro de media"), not
from Mirada's C code.  The notebook-compatible path below is the notebook's
own loop (cord_mat, try/except, prob_pygs[p, c] with the loop counter p),
generalised only to any radius and class.

Usage: detect_reference.py TOOL   (TOOL = build/tests/detect-filter-tool)

Generates random probability grids with fixed seeds (among them the
notebook's 7x16 layout), runs the reference and TOOL on each with several
settings, and compares candidates, neighbourhood means, mu and the final
windows (means and mu to 1e-6).  Exit status 0 when all agree.
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


def random_grid(rng, n, k, peaky):
    """Softmax-like rows (k > 1) or sigmoid pairs [1 - P, P]; float32."""
    if k == 2 and not peaky:
        p = rng.random(n).astype(np.float32)
        return np.stack([np.float32(1) - p, p], axis=1).astype(np.float32)
    logits = rng.normal(0, 3 if peaky else 1, size=(n, k))
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def main():
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
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
