#!/usr/bin/python3
"""The built-in model and demo scenes, end to end through the mirada binary.

  test-default-model.py MIRADA SRCDIR WORKDIR

- accuracy on the 10 000 Fashion-MNIST test images (the ten real classes)
  must be at least 92% (issue 4);
- the default scene: detections against its ground truth (printed);
- 20 further scenes (seed 100, generated here from the TEST split): mean
  precision, recall and F1 at IoU 0.5 with the default detector settings and
  with NMS, which must reach a floor so that a broken model or detector fails.
Needs Debian's dataset-fashion-mnist (installed by build-aux/install-deps).
"""
import json
import os
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


# 2. the default scene
for settings in ([], ["--group", "nms"]):
    p, r, f = prf(detect(scene, truth, *settings))
    print("default scene %s: precision %.3f recall %.3f F1 %.3f" % (" ".join(settings) or "(defaults)", p, r, f))

# 3. twenty evaluation scenes
run("scene", "--count", "20", "--seed", "100", "--out-dir", work, "--prefix", "eval")
for settings in ([], ["--group", "nms"]):
    ps, rs, fs = [], [], []
    for k in range(20):
        base = os.path.join(work, "eval-%03d" % k)
        p, r, f = prf(detect(base + ".png", base + ".json", *settings))
        ps.append(p)
        rs.append(r)
        fs.append(f)
    name = " ".join(settings) or "defaults"
    mp, mr, mf = sum(ps) / 20, sum(rs) / 20, sum(fs) / 20
    print("20 scenes, %s: mean precision %.3f recall %.3f F1 %.3f" % (name, mp, mr, mf))
    if settings:
        check("20 scenes with NMS: mean F1 >= 0.5", mf >= 0.5, "(%.3f)" % mf)

print("%d passed, %d failed" % (len(checks) - len(failures), len(failures)))
sys.exit(1 if failures else 0)
