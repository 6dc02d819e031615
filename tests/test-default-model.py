#!/usr/bin/python3
"""The built-in model and demo scenes, end to end through the mirada binary.

  test-default-model.py MIRADA SRCDIR WORKDIR

- accuracy on the 10 000 Fashion-MNIST test images (the ten real classes)
  must be at least 92% (issue 4);
- the default scene: detections against its ground truth (printed);
- 20 further scenes (seed 100, generated here from the TEST split): mean
  precision, recall and F1 at IoU 0.5 with the default detector settings and
  with NMS, which must reach a floor so that a broken model or detector fails;
- background recall on 3000 generated background samples;
- Grad-CAM sanity: for every ground-truth item of the 20 scenes, Grad-CAM of
  its class on a window twice the item's size centred on it; the map's centre
  of mass must fall inside the item's box for most items.
Needs Debian's dataset-fashion-mnist (installed by build-aux/install-deps).
"""
import json
import os
import tempfile
import re
import subprocess
import sys

mirada, src, work = sys.argv[1], sys.argv[2], sys.argv[3]
model = os.path.join(src, "resources", "default", "model.h5")
scene = os.path.join(src, "resources", "default", "scene.png")
truth = os.path.join(src, "resources", "default", "scene.json")
os.makedirs(work, exist_ok=True)
failures = []
checks = []


def run(*args):
    p = subprocess.run([mirada, *args], capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        print(p.stdout, p.stderr)
        raise SystemExit("mirada %s failed with %d" % (args[0], p.returncode))
    return p.stdout


def check(name, ok, detail=""):
    checks.append(name)
    print("%s %s %s" % ("ok" if ok else "FAIL", name, detail))
    if not ok:
        failures.append(name)


# 1. accuracy on the test split
out = run("evaluate", model, "fashion-mnist")
m = re.search(r"Accuracy: ([0-9.]+)", out)
acc = float(m.group(1)) if m else 0.0
print(out)
check("test accuracy >= 0.92", acc >= 0.92, "(%.4f)" % acc)


def detect(image, gt, *extra):
    out = run("detect", model, image, "--truth", gt, "--json", *extra)
    return json.loads(out)


def prf(res):
    ev = res.get("evaluation") or {}
    return ev.get("precision", 0.0), ev.get("recall", 0.0), ev.get("f1", 0.0)


out = run("evaluate", model, "fashion-mnist", "--background", "3000")
m = re.search(r"^background\s+([0-9.]+)\s+([0-9.]+)", out, re.M)
bg_recall = float(m.group(2)) if m else 0.0
check("background recall >= 0.9", bg_recall >= 0.9, "(%.4f)" % bg_recall)

# The seed's settings (threshold 0.99, method 2.2) favour precision; method 1
# at threshold 0.7 with NMS is the balanced setting the floor is checked on.
BALANCED = ["--method", "1", "--group", "nms"] + [
    a for c in range(10) for a in ("--threshold", "%d=0.7" % c)]

# 2. the default scene
for settings in ([], ["--group", "nms"], BALANCED):
    p, r, f = prf(detect(scene, truth, *settings))
    name = ("method 1, threshold 0.7, NMS" if settings is BALANCED
            else " ".join(settings) or "(defaults)")
    print("default scene %s: precision %.3f recall %.3f F1 %.3f" % (name, p, r, f))

# 3. twenty evaluation scenes
run("scene", "--count", "20", "--seed", "100", "--out-dir", work, "--prefix", "eval")
for settings in ([], ["--group", "nms"], BALANCED):
    ps, rs, fs = [], [], []
    for k in range(20):
        base = os.path.join(work, "eval-%03d" % k)
        p, r, f = prf(detect(base + ".png", base + ".json", *settings))
        ps.append(p)
        rs.append(r)
        fs.append(f)
    name = ("method 1, threshold 0.7, NMS" if settings is BALANCED
            else " ".join(settings) or "defaults")
    mp, mr, mf = sum(ps) / 20, sum(rs) / 20, sum(fs) / 20
    print("20 scenes, %s: mean precision %.3f recall %.3f F1 %.3f" % (name, mp, mr, mf))
    if settings is BALANCED:
        check("20 scenes, method 1 / 0.7 / NMS: mean F1 >= 0.5", mf >= 0.5, "(%.3f)" % mf)

# 4. Grad-CAM sanity on windows around every item of the 20 scenes
import numpy as np  # noqa: E402

inside = total = 0
with tempfile.TemporaryDirectory() as tmp:
    for k in range(20):
        base = os.path.join(work, "eval-%03d" % k)
        with open(base + ".json") as f:
            gt = json.load(f)
        W, H = gt["width"], gt["height"]
        for obj in gt["objects"]:
            x, y, w, h = obj["box"]
            side = min(2 * max(w, h), W, H)
            wx = min(max(x + w // 2 - side // 2, 0), W - side)
            wy = min(max(y + h // 2 - side // 2, 0), H - side)
            raw = os.path.join(tmp, "map.npy")
            run("gradcam", model, base + ".png", "--window", "%d,%d,%d,%d" % (wx, wy, side, side),
                "--class", obj["class"], "--raw", raw)
            m = np.maximum(np.load(raw), 0)
            total += 1
            if m.sum() <= 0:
                continue
            gy, gx = np.indices(m.shape)
            cy = (gy + 0.5).ravel() @ m.ravel() / m.sum() * side / m.shape[0] + wy
            cx = (gx + 0.5).ravel() @ m.ravel() / m.sum() * side / m.shape[1] + wx
            inside += (x <= cx <= x + w) and (y <= cy <= y + h)
rate = inside / max(total, 1)
print("Grad-CAM centre of mass inside the item's box: %d of %d (%.1f%%)" % (inside, total, 100 * rate))
check("Grad-CAM centre of mass inside the box for most items", rate >= 0.6, "(%.3f)" % rate)

print("%d passed, %d failed" % (len(checks) - len(failures), len(failures)))
sys.exit(1 if failures else 0)
