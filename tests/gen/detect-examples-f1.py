#!/usr/bin/python3
"""Background by example on the real-photo scenes (issue 18): precision,
recall, F1 and count error of the seed's methods alone and with 1, 2 and 4
background clicks, as a Markdown table.

    /usr/bin/python3 tests/gen/detect-examples-f1.py MIRADA MODEL [SCENES_DIR]
                     [--rule=nearest|mean] [--preprocess=MODE]

MIRADA is build/app/mirada, MODEL a CIFAR-10 classifier without a background
class (../shared/fixtures/models/MayurJr__model_cifar10.h5); SCENES_DIR holds
photo-N.jpg / photo-N.json (tests/data/photo-scenes, cifar10.labels.txt).

Each scene is classified once (--save-grid keeps the probabilities and the
embeddings); every setting then filters that grid (--grid).  "Seed alone" is
the best F1 over methods 1, 2.1, 2.2 x thresholds x grouping (an oracle
tuning, the most the seed's methods can do on that scene).  The clicks are
what a user would click: the centre of the window of the most probable false
box (one that matches no true box of its class at IoU 0.5) whose window lies
on background (IoU < 0.2 with every true box), one after another, each run
with the same setting; fewer clicks when no such box is left.  "Best + k" is the
best F1 over every setting with its own k clicks chosen the same way.
"""
import json
import os
import subprocess
import sys
import tempfile

args = [a for a in sys.argv[1:] if not a.startswith("--")]
RULE = "nearest"
EXTRA = []
for a in sys.argv[1:]:
    if a.startswith("--rule="):
        RULE = a.split("=", 1)[1]
    if a.startswith("--preprocess="):
        EXTRA = ["-p", a.split("=", 1)[1]]
MIRADA, MODEL = args[0], args[1]
SCENES = args[2] if len(args) > 2 else os.path.join(os.path.dirname(__file__), "..", "data",
                                                     "photo-scenes")
LABELS = os.path.join(SCENES, "cifar10.labels.txt")
METHODS = ["1", "2.1", "2.2"]
THRESHOLDS = ["0.5", "0.7", "0.9", "0.95", "0.99", "0.999"]
GROUPS = ["none", "nms", "merge"]
CLICKS = [1, 2, 4]


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out.stdout


def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def false_boxes(boxes, truth, any_class=False):
    """Boxes matching no true box of their class (greedy by probability, IoU >= 0.5)."""
    used = set()
    false = []
    for b in sorted(boxes, key=lambda b: -b["probability"]):
        best, best_iou = None, 0.5
        for i, t in enumerate(truth):
            if i in used or (not any_class and t["class"].lower() != b["class"].lower()):
                continue
            v = iou(b["box"], t["box"])
            if v >= best_iou:
                best, best_iou = i, v
        if best is None:
            false.append(b)
        else:
            used.add(best)
    return false


def detect(grid, image, truth_path, setting, clicks):
    method, threshold, group = setting
    cmd = [MIRADA, "detect", "--grid", grid, image, "--truth", truth_path, "--json",
           "-m", method, "-t", threshold, "-g", group, "--example-rule", RULE]
    for x, y in clicks:
        cmd += ["--add-background", "%g,%g" % (x, y)]
    return json.loads(run(cmd))


def window_rect(box, stride):
    f, w = box["scale_factor"], box["scale_window"]
    return (box["col"] * stride * f, box["row"] * stride * f, w * f, w * f)


def background_click(boxes, truth, stride):
    """The centre of the window of the most probable false box whose window is
    background (overlaps every true box by IoU < 0.2): what a user clicks."""
    for b in false_boxes(boxes, truth):
        r = window_rect(b, stride)
        if all(iou(r, t["box"]) < 0.2 for t in truth):
            return (r[0] + r[2] / 2, r[1] + r[3] / 2)
    return None


def any_class_f1(boxes, truth):
    tp = len(boxes) - len(false_boxes(boxes, truth, any_class=True))
    p = tp / len(boxes) if boxes else 1.0
    r = tp / len(truth) if truth else 1.0
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def evaluate(grid, image, truth_path, truth, setting, k, stride):
    """F1 of @setting after k clicks on its own most probable false boxes."""
    clicks = []
    res = detect(grid, image, truth_path, setting, clicks)
    for _ in range(k):
        click = background_click(res["objects"], truth, stride)
        if click is None:
            break
        clicks.append(click)
        res = detect(grid, image, truth_path, setting, clicks)
    res["evaluation"]["any_f1"] = any_class_f1(res["objects"], truth)
    return res["evaluation"], clicks


def fmt(ev):
    return "%.2f / %.2f / **%.2f** / %+d (%.2f)" % (ev["precision"], ev["recall"], ev["f1"],
                                                   ev["count_error"], ev["any_f1"])


def main():
    rows = []
    settings = [(m, t, g) for m in METHODS for t in THRESHOLDS for g in GROUPS]
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(1, 100):
            image = os.path.join(SCENES, "photo-%d.jpg" % n)
            truth_path = os.path.join(SCENES, "photo-%d.json" % n)
            if not os.path.exists(image):
                break
            with open(truth_path) as fh:
                truth = json.load(fh)["objects"]
            grid = os.path.join(tmp, "grid-%d.json" % n)
            run([MIRADA, "detect", MODEL, image, "--labels", LABELS, "--save-grid", grid,
                 "--json", "--no-sidecar-examples"] + EXTRA)
            with open(grid) as fh:
                stride = json.load(fh)["stride"]
            seed = {s: evaluate(grid, image, truth_path, truth, s, 0, stride)[0] for s in settings}
            best = max(settings, key=lambda s: (seed[s]["f1"], -abs(seed[s]["count_error"])))
            row = ["photo-%d" % n, "%s (m %s, t %s, %s)" % (fmt(seed[best]), *best)]
            for k in CLICKS:
                ev, clicks = evaluate(grid, image, truth_path, truth, best, k, stride)
                row.append(fmt(ev) + ("" if len(clicks) == k else " (%d clicks)" % len(clicks)))
            for k in CLICKS[:2]:
                evs = {s: evaluate(grid, image, truth_path, truth, s, k, stride)[0]
                       for s in settings}
                b = max(settings, key=lambda s: (evs[s]["f1"], -abs(evs[s]["count_error"])))
                row.append("%s (m %s, t %s, %s)" % (fmt(evs[b]), *b))
            rows.append(row)
            print("scene %d done" % n, file=sys.stderr)
    print("Rule: %s.  Cells: precision / recall / **F1** / count error (detected − true) "
          "(F1 ignoring the class)." % RULE)
    print()
    print("| scene | seed alone, best setting | + 1 background click | + 2 clicks | + 4 clicks "
          "| best setting + 1 click | best setting + 2 clicks |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


main()
