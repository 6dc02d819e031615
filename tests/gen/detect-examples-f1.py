#!/usr/bin/python3
"""Background by example on the real-photo scenes (issue 18): precision,
recall, F1 and count error of the seed's methods alone and with 1, 2 and 4
background clicks, as a Markdown table.

    /usr/bin/python3 tests/gen/detect-examples-f1.py MIRADA MODEL [SCENES_DIR]
                     [--rule=nearest|mean] [--preprocess=MODE] [--resize=MODE]
                     [--labels=FILE|sidecar] [--embedding-layer=NAME]
                     [--click-iou=X] [--scenes=1,2,...]

MIRADA is build/app/mirada, MODEL a classifier without a background class:
a CIFAR-10 one (tests/data/models/mlcommons__pretrainedResnet.h5, labels
SCENES_DIR/cifar10.labels.txt, the default) or the animals CNN trained on
crops (tests/data/models/animals-cnn.h5, --labels=sidecar: its own names);
SCENES_DIR holds photo-N.jpg / photo-N.json (tests/data/photo-scenes).

Each scene is classified once (--save-grid keeps the probabilities and the
embeddings); every setting then filters that grid (--grid).  "Seed alone" is
the best F1 over methods 1, 2.1, 2.2 x thresholds x grouping (an oracle
tuning, the most the seed's methods can do on that scene).  The clicks are
what a user would click: among the windows still detected at the setting's
threshold (method 1, no grouping), those on background (IoU <= --click-iou
with every true box, default 0: overlapping no object at all), the most
probable one's centre (ties: raster order), one after another, each run
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
LABELS = None
CLICK_IOU = 0.0
ONLY = None
for a in sys.argv[1:]:
    key, _, value = a.partition("=")
    if key == "--rule":
        RULE = value
    elif key == "--preprocess":
        EXTRA += ["-p", value]
    elif key == "--resize":
        EXTRA += ["--resize", value]
    elif key == "--embedding-layer":
        EXTRA += ["--embedding-layer", value]
    elif key == "--labels":
        LABELS = value
    elif key == "--click-iou":
        CLICK_IOU = float(value)
    elif key == "--scenes":
        ONLY = [int(v) for v in value.split(",")]
MIRADA, MODEL = args[0], args[1]
SCENES = args[2] if len(args) > 2 else os.path.join(os.path.dirname(__file__), "..", "data",
                                                     "photo-scenes")
if LABELS is None:
    LABELS = os.path.join(SCENES, "cifar10.labels.txt")
LABEL_ARGS = [] if LABELS == "sidecar" else ["--labels", LABELS]
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


def background_click(grid, image, truth_path, truth, setting, clicks):
    """The next click: among the windows still detected at the setting's
    threshold (method 1, no grouping: every window the user sees marked),
    those lying on background (IoU <= CLICK_IOU with every true box), the
    most probable (ties: the first in raster order); its centre."""
    res = detect(grid, image, truth_path, ("1", setting[1], "none"), clicks)
    cands = [b for b in res["objects"]
             if all(iou(b["box"], t["box"]) <= CLICK_IOU for t in truth)]
    if not cands:
        return None
    b = min(cands, key=lambda b: (-b["probability"], b["row"], b["col"]))
    x, y, w, h = b["box"]
    return (x + w / 2, y + h / 2)


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
        click = background_click(grid, image, truth_path, truth, setting, clicks)
        if click is None:
            break
        clicks.append(click)
        res = detect(grid, image, truth_path, setting, clicks)
    res["evaluation"]["any_f1"] = any_class_f1(res["objects"], truth)
    res["evaluation"]["kinds"] = false_kinds(res["objects"], truth)
    return res["evaluation"], clicks


def false_kinds(boxes, truth):
    """The false boxes by kind: on an object but of another class (IoU >= 0.5
    with a true box), partly on an object (0 < IoU < 0.5), on background."""
    wrong = part = bg = 0
    for b in false_boxes(boxes, truth):
        best = max((iou(b["box"], t["box"]) for t in truth), default=0.0)
        if best >= 0.5:
            wrong += 1
        elif best > 0:
            part += 1
        else:
            bg += 1
    return wrong, part, bg


def fmt(ev):
    return "%.2f / %.2f / **%.2f** / %+d (%.2f) [%d/%d/%d]" % (
        ev["precision"], ev["recall"], ev["f1"], ev["count_error"], ev["any_f1"], *ev["kinds"])


def main():
    rows = []
    settings = [(m, t, g) for m in METHODS for t in THRESHOLDS for g in GROUPS]
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(1, 100):
            image = os.path.join(SCENES, "photo-%d.jpg" % n)
            truth_path = os.path.join(SCENES, "photo-%d.json" % n)
            if not os.path.exists(image):
                break
            if ONLY is not None and n not in ONLY:
                continue
            with open(truth_path) as fh:
                truth = json.load(fh)["objects"]
            grid = os.path.join(tmp, "grid-%d.json" % n)
            run([MIRADA, "detect", MODEL, image, "--save-grid", grid,
                 "--json", "--no-sidecar-examples"] + LABEL_ARGS + EXTRA)
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
    print("Model %s, rule: %s, clicks on windows with IoU <= %g with every true box%s.  "
          "Cells: precision / recall / **F1** / count error (detected − true) "
          "(F1 ignoring the class) [false boxes: wrong class on an object / partly on "
          "an object / on background]." % (os.path.basename(MODEL), RULE, CLICK_IOU,
                                       ", " + " ".join(EXTRA) if EXTRA else ""))
    print()
    print("| scene | seed alone, best setting | + 1 background click | + 2 clicks | + 4 clicks "
          "| best setting + 1 click | best setting + 2 clicks |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


main()
