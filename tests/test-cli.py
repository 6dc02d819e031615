#!/usr/bin/python3
"""Runs the built `mirada` binary: exit codes, error lines, and `predict`
against expected.json (probabilities computed with Pillow + numpy by
tests/data/cli/gen-cli-data.py, independently of Mirada's code).

    test-cli.py MIRADA SRCDIR      (SRCDIR = the tests/ folder)

Standard library only.  Prints TAP.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

MIRADA = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
DATA = os.path.join(SRC, "data", "cli")
FIXTURES = os.path.join(SRC, "data", "models")
IMAGES = ["photo.png", "alpha.png", "grey.png", "rotated.jpg"]
EXPECTED = json.load(open(os.path.join(DATA, "expected.json")))

# float32 engine vs float64 reference on lossless images.
TOL_EXACT = 1e-5
# tiny_sigmoid resizes bilinearly: TF keeps floats, Mirada rounds the resized
# pixels to 8 bits (<= 0.5/255 each); through GAP, x/127.5-1 and weights of
# |w| <= 4 on 3 channels that moves P by 5.5e-4 here (bound 2e-3).
TOL_BILINEAR = 2e-3
# JPEG: Pillow's libjpeg and GdkPixbuf's may round the IDCT differently (same
# decoder on Debian 12: 1e-8 here).
TOL_JPEG = 1e-3

results = []
tmp = tempfile.mkdtemp(prefix="mirada-cli-test-")


def run(*args, cwd=None):
    p = subprocess.run([MIRADA] + list(args), capture_output=True, text=True, cwd=cwd,
                       timeout=300)
    return p.returncode, p.stdout, p.stderr


def check(name, cond, detail=""):
    results.append((name, bool(cond), detail))


def one_error_line(name, rc, err, want_rc=2):
    lines = err.splitlines()
    check(name + ": exit %d" % want_rc, rc == want_rc, "exit %d, stderr %r" % (rc, err))
    check(name + ": one stderr line 'mirada: ...'",
          len(lines) == 1 and lines[0].startswith("mirada: "), repr(err))


def model(name):
    return os.path.join(DATA, name)


def image(name):
    return os.path.join(DATA, name)


def tolerance(model_name, image_name):
    if image_name.endswith(".jpg"):
        return TOL_JPEG
    if model_name == "tiny_sigmoid.h5":
        return TOL_BILINEAR
    return TOL_EXACT


def predict_json(*args):
    rc, out, err = run("predict", "--json", *args)
    if rc != 0:
        return rc, None, err
    return rc, json.loads(out), err


# ------------------------------------------------------------ usage
rc, out, err = run("help")
check("help: the command list, exit 0", rc == 0 and "predict" in out and "info" in out, out + err)
rc, out, err = run("--help")
check("--help: exit 0", rc == 0 and "Commands" in out, out + err)
rc, out, err = run("--version")
check("--version: exit 0", rc == 0 and out.startswith("mirada "), out + err)
rc, out, err = run("help", "predict")
check("help predict: exit 0, lists --top", rc == 0 and "--top" in out, out + err)
rc, out, err = run("predict", "--help")
check("predict --help: exit 0", rc == 0 and "--labels" in out, out + err)
rc, out, err = run("predict", "--bogus", model("tiny_softmax.h5"), image("photo.png"))
check("bad option: exit 1", rc == 1 and "--bogus" in err, err)
rc, out, err = run("frobnicate")
check("unknown command: exit 1", rc == 1, err)
rc, out, err = run("predict", model("tiny_softmax.h5"))
check("predict without images: exit 1", rc == 1, err)
for opt in (["--top", "0"], ["--top", "x"], ["--preprocess", "imagenet"], ["--resize", "bicubic"]):
    rc, out, err = run("predict", *opt, model("tiny_softmax.h5"), image("photo.png"))
    check("predict %s: exit 1" % " ".join(opt), rc == 1, err)

# ------------------------------------------------------------ bad input
not_image = os.path.join(tmp, "notes.png")
with open(not_image, "w") as f:
    f.write("this is not a picture\n")
rc, out, err = run("predict", model("tiny_softmax.h5"), not_image)
one_error_line("predict on a non-image", rc, err)
check("predict on a non-image: names the file", "notes.png" in err, err)

rc, out, err = run("predict", os.path.join(tmp, "missing.h5"), image("photo.png"))
one_error_line("missing model", rc, err)

truncated = os.path.join(tmp, "truncated.h5")
with open(model("tiny_softmax.h5"), "rb") as f:
    head = f.read(3000)
with open(truncated, "wb") as f:
    f.write(head)
rc, out, err = run("predict", truncated, image("photo.png"))
one_error_line("truncated HDF5 model", rc, err)

text_model = os.path.join(tmp, "model.h5")
with open(text_model, "w") as f:
    f.write("not hdf5\n")
rc, out, err = run("info", text_model)
one_error_line("non-HDF5 model", rc, err)

rc, out, err = run("predict", model("tiny_softmax.h5"), image("photo.png"),
                   os.path.join(tmp, "nope.png"))
one_error_line("one missing image among several", rc, err)

# ------------------------------------------------------------ info
rc, out, err = run("info", model("tiny_softmax.h5"))
check("info: exit 0", rc == 0, err)
for word in ("conv (Conv2D)", "gap (GlobalAveragePooling2D)", "probs (Dense)", "(None, 14, 14, 4)"):
    check("info shows %r" % word, word in out, out)
# Conv 3x3x3x4 + 4 biases, Dense 4x3 + 3 biases.
params = 3 * 3 * 3 * 4 + 4 + 4 * 3 + 3
check("info: total params %d" % params, ("Total params: %d " % params) in out, out)
rc, out, err = run("info", "--json", model("tiny_softmax.h5"))
info = json.loads(out) if rc == 0 else {}
check("info --json: totals", info.get("total_params") == params
      and info.get("trainable_params") == params and info.get("non_trainable_params") == 0,
      out)
check("info --json: layers and links",
      [l["name"] for l in info.get("layers", [])] == ["tiny_softmax_input", "conv", "gap", "probs"]
      and info["layers"][2]["connected_to"] == ["conv"], out)
check("info --json: sidecar read", info.get("class_names") == ["red", "green", "blue"]
      and info.get("preprocess") == "scale", out)

# ------------------------------------------------------------ predict vs reference
for m in ("tiny_softmax.h5", "tiny_sigmoid.h5", "tiny_grey.h5"):
    rc, got, err = predict_json("--top", "10", model(m), *[image(i) for i in IMAGES])
    check("predict %s: exit 0" % m, rc == 0, err)
    if got is None:
        continue
    check("predict %s: one result per image, in order" % m,
          [r["image"] for r in got["images"]] == [image(i) for i in IMAGES], got)
    for r, name in zip(got["images"], IMAGES):
        ref = EXPECTED[m][name]
        probs = {p["class"]: p["probability"] for p in r["predictions"]}
        if len(ref) == 1:  # one sigmoid unit: classes 1 (P) and 0 (1 - P)
            ref = [1 - ref[0], ref[0]]
        worst = max(abs(probs.get(i, -1) - ref[i]) for i in range(len(ref)))
        check("predict %s %s: within %g of the reference (worst %.2g)"
              % (m, name, tolerance(m, name), worst), worst <= tolerance(m, name),
              "%r vs %r" % (probs, ref))
        values = [p["probability"] for p in r["predictions"]]
        check("predict %s %s: sums to 1" % (m, name), abs(sum(values) - 1) < 1e-5, values)
        check("predict %s %s: sorted" % (m, name), values == sorted(values, reverse=True), values)

rc, got, err = predict_json(model("tiny_sigmoid.h5"), image("photo.png"))
labels = [p["label"] for p in got["images"][0]["predictions"]] if got else []
check("sigmoid: two classes named from the labels file", sorted(labels) == ["cat", "dog"], got)
if got:
    dog = [p for p in got["images"][0]["predictions"] if p["label"] == "dog"][0]
    check("sigmoid: class 1 ('dog') is P", abs(dog["probability"]
                                               - EXPECTED["tiny_sigmoid.h5"]["photo.png"][0])
          <= TOL_BILINEAR, got)

# --top, and batching equals one-by-one runs.
rc, got, err = predict_json("--top", "2", model("tiny_softmax.h5"), *[image(i) for i in IMAGES])
check("--top 2: two classes each", got is not None
      and all(len(r["predictions"]) == 2 for r in got["images"]), got)
rc, out, err = run("predict", "-k", "1", model("tiny_softmax.h5"), image("photo.png"))
check("--top 1 text: one line per image", rc == 0 and len(out.strip().splitlines()) == 2, out)
rc, batch, err = predict_json("--top", "3", model("tiny_softmax.h5"), *[image(i) for i in IMAGES])
for k, name in enumerate(IMAGES):
    rc, single, err = predict_json("--top", "3", model("tiny_softmax.h5"), image(name))
    same = single is not None and batch is not None and all(
        a["class"] == b["class"] and abs(a["probability"] - b["probability"]) < 1e-6
        for a, b in zip(single["images"][0]["predictions"], batch["images"][k]["predictions"]))
    check("batch of 4 = single run for %s" % name, same, (single, batch))

# Overrides and sidecar discovery.
labels_file = os.path.join(tmp, "names.txt")
with open(labels_file, "w") as f:
    f.write("0 5 Galoon\n1 500ML\n2 third\n")
rc, got, err = predict_json("--labels", labels_file, model("tiny_softmax.h5"), image("photo.png"))
check("--labels: Teachable Machine indices stripped", got is not None and sorted(
    p["label"] for p in got["images"][0]["predictions"]) == ["5 Galoon", "500ML", "third"], got)
bare = os.path.join(tmp, "bare.h5")
shutil.copy(model("tiny_softmax.h5"), bare)
rc, got, err = predict_json("--preprocess", "scale", bare, image("photo.png"))
ok = got is not None
if ok:
    probs = {p["class"]: p["probability"] for p in got["images"][0]["predictions"]}
    ok = all(abs(probs[i] - EXPECTED["tiny_softmax.h5"]["photo.png"][i]) <= TOL_EXACT
             for i in range(3)) and probs and got["images"][0]["predictions"][0]["label"].startswith("class ")
check("no sidecar: --preprocess scale gives the reference, classes unnamed", ok, got)
rc, got, err = predict_json(bare, image("photo.png"))
ok = got is not None and abs(got["images"][0]["predictions"][0]["probability"]
                             - max(EXPECTED["tiny_softmax.h5"]["photo.png"])) > 1e-3
check("no sidecar: raw 0..255 input gives other probabilities", ok, got)

# ------------------------------------------------------------ bench
rc, out, err = run("bench", "--runs", "3", "--json", model("tiny_softmax.h5"))
bench = json.loads(out) if rc == 0 else {}
check("bench --json: exit 0", rc == 0, err)
conv = [l for l in bench.get("layers", []) if l["name"] == "conv"]
# 14x14 outputs x 4 filters x 27 multiply-adds x 2.
want = 2 * 14 * 14 * 4 * 27
check("bench: conv FLOPs about %d" % want, conv and abs(conv[0]["flops"] - want) <= 0.1 * want,
      conv)
check("bench: positive median time", bench.get("median_seconds", 0) > 0, bench)
rc, out, err = run("bench", "--runs", "2", "--threads", "1", model("tiny_softmax.h5"))
check("bench text: exit 0, total line", rc == 0 and "Total (median)" in out, out + err)
rc, out, err = run("bench", "--runs", "0", model("tiny_softmax.h5"))
check("bench --runs 0: exit 1", rc == 1, err)
# The built-in model runs each MaxPooling2D inside the convolution before it:
# the table says "fused" for them instead of a 0.000 ms time of their own.
default_model = os.path.join(os.path.dirname(SRC), "resources", "default", "model.h5")
rc, out, err = run("bench", "--runs", "2", "--json", default_model)
layers = {l["name"]: l for l in json.loads(out).get("layers", [])} if rc == 0 else {}
check("bench --json: pooling after a convolution did not run on its own, the convolution did",
      layers.get("max_pooling2d", {}).get("ran") is False and
      layers.get("conv2d", {}).get("ran") is True, layers)
rc, out, err = run("bench", "--runs", "2", default_model)
pool_rows = [l for l in out.splitlines() if l.startswith("max_pooling2d ")]
check("bench text: fused layers say so, with the footnote",
      rc == 0 and pool_rows and all(l.split()[-1] == "fused" for l in pool_rows) and
      "“fused”: computed inside" in out, out + err)

# ------------------------------------------------------------ a real fixture
tm = os.path.join(FIXTURES, "963n__keras_model.h5")
if os.path.exists(tm):
    tm_labels = os.path.join(tmp, "labels.txt")
    with open(tm_labels, "w") as f:
        f.write("0 5 Galoon\n1 500ML\n")
    rc, out, err = run("info", tm)
    check("info on the Teachable Machine fixture", rc == 0 and "Keras 2 HDF5" in out
          and "DepthwiseConv2D" in out, err)
    # As Teachable Machine ships it: keras_model.h5 + labels.txt in one folder.
    folder = os.path.join(tmp, "tm")
    os.mkdir(folder)
    shutil.copy(tm, os.path.join(folder, "keras_model.h5"))
    shutil.copy(tm_labels, os.path.join(folder, "labels.txt"))
    rc, got, err = predict_json(os.path.join(folder, "keras_model.h5"), image("photo.png"),
                                image("rotated.jpg"))
    ok = got is not None and got["preprocess"] == "tf"
    if ok:
        for r in got["images"]:
            values = [p["probability"] for p in r["predictions"]]
            ok &= abs(sum(values) - 1) < 1e-5 and len(values) == 2
            ok &= sorted(p["label"] for p in r["predictions"]) == ["5 Galoon", "500ML"]
    check("predict on the Teachable Machine fixture: 2 named classes summing to 1, tf mode",
          ok, got if got else err)
else:
    check("fixture %s present" % tm, False)

# ------------------------------------------------------------ gradcam: methods, faithfulness
TOP = os.path.dirname(SRC)
DEFAULT_MODEL = os.path.join(TOP, "resources", "default", "model.h5")
SCENE = os.path.join(TOP, "resources", "default", "scene.png")
SCENE_BOXES = json.load(open(os.path.join(TOP, "resources", "default", "scene.json")))["objects"]
ALL_METHODS = ["gradcam", "gradcam++", "hirescam", "xgradcam", "layercam", "scorecam",
               "eigencam", "cam", "saliency", "gradients", "smoothgrad", "guided",
               "guided-gradcam", "occlusion", "random"]


def gradcam_json(*args):
    rc, out, err = run("gradcam", "--json", *args)
    return rc, (json.loads(out) if rc == 0 else None), err


def read_png_rgb(path):
    """(width, height, rows of (r, g, b) tuples) of an 8-bit RGB or RGBA PNG
    (standard library: zlib + the five PNG row filters)."""
    import struct
    import zlib
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p_ = a + b - c
                pa, pb, pc = abs(p_ - a), abs(p_ - b), abs(p_ - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(w)])
        prev = line
    return w, h, rows


def count_near(rows, rgb, tol=40):
    return sum(1 for row in rows for p in row
               if abs(p[0] - rgb[0]) + abs(p[1] - rgb[1]) + abs(p[2] - rgb[2]) <= tol)


# Every method on the default model, one Sneaker window of the demo scene.
sneaker = [o for o in SCENE_BOXES if o["class"] == "Sneaker"][0]
win = ",".join(str(v) for v in sneaker["box"])
csv_path = os.path.join(tmp, "deletion.csv")
png_path = os.path.join(tmp, "deletion.png")
rc, got, err = gradcam_json("--all-methods", "--window", win, "--deletion-csv", csv_path,
                            "--deletion-png", png_path, DEFAULT_MODEL, SCENE)
check("gradcam --all-methods on the default model: exit 0", rc == 0, err)
got = got or []
names = [e["method"] for e in got]
check("--all-methods: one entry per method, in order", names == ALL_METHODS, names)
skipped = [e for e in got if "skipped" in e]
check("--all-methods: only CAM skipped (Flatten head), with the reason",
      [e["method"] for e in skipped] == ["cam"]
      and "GlobalAveragePooling2D" in skipped[0]["skipped"], skipped)
done = [e for e in got if "skipped" not in e]
check("--all-methods: the box's class (Sneaker) explained by every method",
      done and all(e["class_name"] == "Sneaker" and e["probability"] > 0.5 for e in done), done)
curves = {}
if os.path.exists(csv_path):
    lines = open(csv_path).read().split("\n")
    check("deletion CSV: labelled header", lines[0] == "curve,fraction,score,probability",
          lines[:2])
    for line in lines[1:]:
        if line:
            c, fr, sc, pr = line.split(",")
            curves.setdefault(c, []).append((float(fr), float(sc), float(pr)))
check("deletion CSV: 21 points for each of the 14 methods run",
      sorted(curves) == sorted(e["method"] for e in done)
      and all(len(v) == 21 for v in curves.values()), {k: len(v) for k, v in curves.items()})
if curves and done:
    # Independent of the ranking: fraction 0 is the untouched window (the
    # explained score), fraction 1 the all-grey window, the same for all maps.
    ok0 = all(abs(curves[e["method"]][0][1] - e["score"]) <= 1e-4 * max(1, abs(e["score"]))
              for e in done)
    ends = [v[-1][1] for v in curves.values()]
    check("deletion curves start at the explained score", ok0,
          [(e["method"], e["score"], curves[e["method"]][0]) for e in done])
    check("deletion curves all end at the all-grey score", max(ends) - min(ends) <= 1e-4, ends)
    # The reported area is the trapezoid area of the written curve.
    worst = max(abs(sum(0.5 * (v[i][1] + v[i - 1][1]) * (v[i][0] - v[i - 1][0])
                        for i in range(1, len(v))) - e["faithfulness"]["deletion_auc_score"])
                for e in done for v in [curves[e["method"]]])
    check("deletion AUC = trapezoid area of the CSV curve (worst %.2g)" % worst, worst <= 1e-3)

if os.path.exists(png_path):
    w, h, rows = read_png_rgb(png_path)
    check("deletion PNG: 1100×640", (w, h) == (1100, 640), (w, h))
    ink = sum(1 for row in rows for p in row if p != (255, 255, 255))
    check("deletion PNG: 3%%–40%% of the pixels drawn (%d)" % ink,
          0.03 * w * h <= ink <= 0.40 * w * h, ink)
else:
    check("deletion PNG written", False, err)

# One curve versus two: the first palette colour (Tableau blue) and the second
# (orange) appear only as many times as there are curves to draw them.
one_png = os.path.join(tmp, "one.png")
two_png = os.path.join(tmp, "two.png")
rc1, _, err1 = run("gradcam", "-m", "gradcam", "--window", win, "--deletion-png", one_png,
                   DEFAULT_MODEL, SCENE)
rc2, _, err2 = run("gradcam", "-m", "gradcam,occlusion", "--window", win, "--deletion-png",
                   two_png, DEFAULT_MODEL, SCENE)
check("--deletion-png with one and two methods: exit 0", rc1 == 0 and rc2 == 0, err1 + err2)
if rc1 == 0 and rc2 == 0:
    BLUE, ORANGE = (31, 119, 180), (255, 127, 14)
    _, _, r1 = read_png_rgb(one_png)
    _, _, r2 = read_png_rgb(two_png)
    b1, o1, b2, o2 = (count_near(r1, BLUE), count_near(r1, ORANGE), count_near(r2, BLUE),
                      count_near(r2, ORANGE))
    check("one curve: blue line drawn (%d px), no orange (%d px)" % (b1, o1), b1 > 500 and o1 < 20)
    check("two curves: blue (%d px) and orange (%d px) lines" % (b2, o2), b2 > 500 and o2 > 500)

# Faithfulness against chance on the demo scene: for each ground-truth box,
# the window explained for its class; occlusion (which measures the same grey
# perturbation) must delete the class faster than random maps (seeds 1-3).
# Grad-CAM is not asserted: on this Flatten-head model its conv2d_2 maps are
# no better than chance (mean P-area 0.43 against 0.30 for random maps).
occl, rand = [], []
for o in SCENE_BOXES:
    b = ",".join(str(v) for v in o["box"])
    rc, got, err = gradcam_json("-m", "occlusion", "--faithfulness", "--class",
                                str(o["class_index"]), "--window", b, DEFAULT_MODEL, SCENE)
    if got:
        occl.append(got[0]["faithfulness"]["deletion_auc_probability"])
    for seed in ("1", "2", "3"):
        rc, got, err = gradcam_json("-m", "random", "--seed", seed, "--faithfulness", "--class",
                                    str(o["class_index"]), "--window", b, DEFAULT_MODEL, SCENE)
        if got:
            rand.append(got[0]["faithfulness"]["deletion_auc_probability"])
if len(occl) == len(SCENE_BOXES) and len(rand) == 3 * len(SCENE_BOXES):
    mo, mr = sum(occl) / len(occl), sum(rand) / len(rand)
    check("demo scene: occlusion deletion area %.3f < random maps' %.3f" % (mo, mr), mo < mr)
else:
    check("demo scene: occlusion and random faithfulness ran", False, (occl, rand))
rc, a, _ = gradcam_json("-m", "random", "--seed", "1", "--window", win, "--raw",
                        os.path.join(tmp, "r1.npy"), DEFAULT_MODEL, SCENE)
rc, b, _ = gradcam_json("-m", "random", "--seed", "2", "--window", win, "--raw",
                        os.path.join(tmp, "r2.npy"), DEFAULT_MODEL, SCENE)
check("random maps: other seed, other map",
      os.path.exists(os.path.join(tmp, "r1.npy")) and
      open(os.path.join(tmp, "r1.npy"), "rb").read() != open(os.path.join(tmp, "r2.npy"),
                                                               "rb").read())

# Ground truth (issue 16): class names match in any case, and a missing or
# bad --truth file fails before any window is classified (nothing saved by
# --save-grid, which runs right after classifying).
scene_truth = json.load(open(os.path.join(TOP, "resources", "default", "scene.json")))
lower_truth = os.path.join(tmp, "scene-lower.json")
json.dump(dict(scene_truth, objects=[dict(o, **{"class": o["class"].lower()})
                                     for o in scene_truth["objects"]]), open(lower_truth, "w"))
evals = []
for gt in (os.path.join(TOP, "resources", "default", "scene.json"), lower_truth):
    rc, out, err = run("detect", DEFAULT_MODEL, SCENE, "--truth", gt, "--json")
    try:
        evals.append(json.loads(out)["evaluation"] if rc == 0 else None)
    except ValueError:
        evals.append(None)
check("detect --truth: lower-case class names give the same P/R/F1 (%s)" % (evals[0],),
      evals[0] is not None and evals[0]["truth"] == 6 and evals[1] == evals[0], (evals, err))
zebra_truth = os.path.join(tmp, "scene-zebra.json")
json.dump({"objects": [{"class": "sneaker", "box": [0, 0, 10, 10]},
                       {"class": "Zebra", "box": [0, 0, 10, 10]}]}, open(zebra_truth, "w"))
broken_truth = os.path.join(tmp, "scene-broken.json")
with open(broken_truth, "w") as f:
    f.write('{"objects": [{"class": "Bag", "box": [1, 2, 3')
for what, gt, words in (("missing", os.path.join(tmp, "no-such-truth.json"), ["no-such-truth"]),
                        ("not JSON", broken_truth, ["scene-broken"]),
                        ("unknown class", zebra_truth, ["Zebra", "Sneaker", "Ankle boot"])):
    grid_out = os.path.join(tmp, "truth-grid.json")
    rc, out, err = run("detect", DEFAULT_MODEL, SCENE, "--windows", "100,150,200",
                       "--save-grid", grid_out, "--truth", gt)
    one_error_line("detect --truth %s" % what, rc, err)
    check("detect --truth %s: the message names %s" % (what, ", ".join(words)),
          all(w in err for w in words), err)
    check("detect --truth %s: fails before classifying (no grid saved)" % what,
          not os.path.exists(grid_out) and not os.path.exists(grid_out[:-5] + ".0.json"),
          err)

# Binary sigmoid: class 1 is P, class 0 its complement (as `predict` numbers
# them); the occlusion map of the complement is the negated map.
sig = model("tiny_sigmoid.h5")
p_dog = EXPECTED["tiny_sigmoid.h5"]["photo.png"][0]
rc, got, err = gradcam_json("-m", "occlusion", "--all-classes", sig, image("photo.png"))
check("sigmoid --all-classes: dog (P) then cat (1 - P)", got is not None
      and [(e["class_name"], e["complement"]) for e in got] == [("dog", False), ("cat", True)]
      and abs(got[0]["probability"] - p_dog) <= TOL_BILINEAR
      and abs(got[0]["probability"] + got[1]["probability"] - 1) < 1e-6, got or err)
maps = {}
for cls in ("dog", "cat"):
    path = os.path.join(tmp, "occl-%s.csv" % cls)
    rc, got, err = gradcam_json("-m", "occlusion", "--class", cls, "--csv", path, sig,
                                image("photo.png"))
    check("sigmoid --class %s: exit 0, named" % cls,
          rc == 0 and got[0]["class_name"] == cls, got or err)
    if rc == 0:
        maps[cls] = [float(v) for line in open(path) for v in line.strip().split(",") if v]
if len(maps) == 2:
    worst = max(abs(a + b) for a, b in zip(maps["dog"], maps["cat"]))
    check("sigmoid: complement's occlusion map = -map (worst %.2g)" % worst,
          len(maps["dog"]) == 64 and worst <= 1e-5 * max(1e-3, max(map(abs, maps["dog"]))))

# The mini-XCEPTION fer2013 fixture: every method, every class.
fer = os.path.join(FIXTURES, "oarriaga__fer2013_mini_XCEPTION.102-0.66.hdf5")
rc, got, err = gradcam_json("--all-methods", "--all-classes", "--samples", "4",
                            "-o", os.path.join(tmp, "fer.png"), fer, image("photo.png"))
ran = [e for e in (got or []) if "skipped" not in e]
check("fer2013 mini-XCEPTION: %d maps, all methods x 7 classes" % len(ran),
      rc == 0 and len(ran) == 7 * len(ALL_METHODS)
      and all(e["width"] > 0 and e["height"] > 0 for e in ran), err)

# activations --gap: white columns between the tiles, the window's 2 by default
# (the tiny model's "conv" is 14x14x4).
for args, per_row, gap in ((["--gap", "3", "--per-row", "2"], 2, 3), ([], 16, 2)):
    path = os.path.join(tmp, "act-gap.png")
    rc, out, err = run("activations", "--layer", "conv", "--plain", "-o", path, *args,
                       model("tiny_softmax.h5"), image("photo.png"))
    if rc != 0:
        check("activations %s: exit 0" % args, False, err)
        continue
    w, h, rows = read_png_rgb(path)
    cols, nrows = min(per_row, 4), (4 + per_row - 1) // per_row
    check("activations %s: %dx%d grid with %d px gaps" % (args, w, h, gap),
          (w, h) == (cols * (14 + gap) - gap, nrows * (14 + gap) - gap), (w, h))
    check("activations %s: the gap columns are white" % args,
          all(rows[y][x] == (255, 255, 255) for y in range(h) for x in range(14, 14 + gap)),
          [rows[y][14] for y in range(3)])

# detect --field-png (issue 18): the probability field of a class drawn on
# the photo from a saved grid.  The grid, the photo (flat grey) and the
# expected pixels are made here: the heat map is the class colour at opacity
# 0.5 * P with P bilinear between the window centres (clamped outside them),
# the threshold contour is the class colour itself (the tint never reaches it
# at opacity 0.5).
def write_png_rgb(path, w, h, rgb):
    import struct
    import zlib

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff))
    raw = b"".join(b"\x00" + bytes(rgb) * w for _ in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


F_ROWS, F_COLS, F_WIN, F_STRIDE = 4, 6, 40, 20
F_W, F_H = F_WIN + F_STRIDE * (F_COLS - 1), F_WIN + F_STRIDE * (F_ROWS - 1)
field_p = [[max(0.0, min(1.0, 1.0 - 0.22 * ((c - 1.5) ** 2 + (r - 1.2) ** 2) ** 0.5 * 1.6))
            for c in range(F_COLS)] for r in range(F_ROWS)]
field_grid = os.path.join(tmp, "field-grid.json")
json.dump({"image_width": F_W, "image_height": F_H, "window": F_WIN, "stride": F_STRIDE,
           "notebook_layout": False, "classes": ["dog", "cat"],
           "probs": [[field_p[r][c], 1.0 - field_p[r][c]]
                     for r in range(F_ROWS) for c in range(F_COLS)]}, open(field_grid, "w"))
field_photo = os.path.join(tmp, "field-photo.png")
write_png_rgb(field_photo, F_W, F_H, (128, 128, 128))
field_png = os.path.join(tmp, "field.png")
F_THR = 0.6


def field_bilinear(x, y):
    u = min(max((x - F_WIN / 2) / F_STRIDE, 0.0), F_COLS - 1.0)
    v = min(max((y - F_WIN / 2) / F_STRIDE, 0.0), F_ROWS - 1.0)
    c0, r0 = min(int(u), F_COLS - 2), min(int(v), F_ROWS - 2)
    fu, fv = u - c0, v - r0
    return ((1 - fv) * ((1 - fu) * field_p[r0][c0] + fu * field_p[r0][c0 + 1])
            + fv * ((1 - fu) * field_p[r0 + 1][c0] + fu * field_p[r0 + 1][c0 + 1]))


rc, out, err = run("detect", "--grid", field_grid, field_photo, "-m", "1", "-t", "dog=%g" % F_THR,
                   "--field-png", field_png, "--class", "dog")
check("detect --field-png: exit 0", rc == 0, err)
if rc == 0:
    w, h, rows = read_png_rgb(field_png)
    check("--field-png: the photo's size (%dx%d)" % (w, h), (w, h) == (F_W, F_H), (w, h))
    red = (255, 0, 0)   # class 0's colour in mirada_detect_class_color
    tinted, plain = [], []
    for r in range(F_ROWS):
        for c in range(F_COLS):
            x, y = F_WIN // 2 + c * F_STRIDE, F_WIN // 2 + r * F_STRIDE
            # a pixel beside the centre, clear of the contour (2 px lines)
            px = rows[y][x]
            a = 0.5 * field_bilinear(x + 0.5, y + 0.5)
            want = tuple(round(128 * (1 - a) + k * a) for k in red)
            near_line = any(rows[yy][xx] == red for yy in range(y - 4, y + 5)
                            for xx in range(x - 4, x + 5))
            if near_line:
                continue
            (tinted if field_p[r][c] >= 0.5 else plain).append((r, c, px, want))
    bad = [t for t in tinted + plain if max(abs(t[2][k] - t[3][k]) for k in range(3)) > 2]
    check("--field-png: %d high-P cells tinted red by 0.5*P, %d low-P cells grey (to 2/255)"
          % (len(tinted), len(plain)), tinted and plain and not bad, bad[:5])
    low = [t for t in plain if field_p[t[0]][t[1]] < 0.05]
    check("--field-png: cells with P < 0.05 stay within 4/255 of the grey photo",
          low and all(max(abs(t[2][k] - 128) for k in range(3)) <= 4 for t in low), low[:5])
    # contour pixels: where P crosses the threshold (within the 2 px line and 1 px of edge)
    line = [(x, y) for y in range(h) for x in range(w) if rows[y][x] == red]
    stray = []
    for x, y in line:
        vals = [field_bilinear(xx + 0.5, yy + 0.5)
                for yy in range(y - 3, y + 4) for xx in range(x - 3, x + 4)]
        if not (min(vals) <= F_THR <= max(vals)):
            stray.append((x, y))
    check("--field-png: %d contour pixels, all within 3 px of P = threshold" % len(line),
          len(line) > 50 and not stray, stray[:10])
    # and every crossing between two neighbouring centres has contour pixels near it
    missed = []
    for r in range(F_ROWS):
        for c in range(F_COLS - 1):
            a, b = field_p[r][c], field_p[r][c + 1]
            if (a >= F_THR) != (b >= F_THR):
                t = (F_THR - a) / (b - a)
                x = F_WIN / 2 + (c + t) * F_STRIDE
                y = F_WIN / 2 + r * F_STRIDE
                if not any(abs(lx - x) <= 3 and abs(ly - y) <= 3 for lx, ly in line):
                    missed.append((r, c, round(x, 1), y))
    check("--field-png: a contour pixel at every threshold crossing between centres",
          not missed, missed)
rc, out, err = run("detect", "--grid", field_grid, field_photo, "-m", "2.2", "-t", "dog=0.5",
                   "--field-png", field_png)
check("detect --field-png, method 2.2, every class: exit 0", rc == 0, err)
rc, out, err = run("detect", "--grid", field_grid, field_photo, "--field-png", field_png,
                   "--class", "zebra")
one_error_line("detect --field-png --class zebra", rc, err)
check("detect --field-png --class zebra: names the class", "zebra" in err, err)
rc, out, err = run("detect", "--grid", field_grid, field_photo, "--class", "dog")
check("detect --class without --field-png: usage error (exit 1)", rc == 1, err)
# filters --size: honoured past the model's fixed 16 px for the convolution (only the
# layers up to it run), refused for the Dense layer behind GlobalAveragePooling2D.
path = os.path.join(tmp, "filters-size.png")
rc, out, err = run("filters", "--layer", "conv", "--filters", "0", "--size", "24", "--steps", "2",
                   "--no-cache", "--plain", "-o", path, model("tiny_softmax.h5"))
check("filters --size 24 on a 16-px model's conv: exit 0", rc == 0, err)
if rc == 0:
    w, h, _ = read_png_rgb(path)
    check("filters --size 24: a 24x24 pattern", (w, h) == (24, 24), (w, h))
rc, out, err = run("filters", "--layer", "probs", "--size", "24", "--steps", "2", "--no-cache",
                   model("tiny_softmax.h5"))
one_error_line("filters --size on a Dense layer", rc, err)
check("filters --size on a Dense layer: names the layer that fixes the size",
      "'gap'" in err and "16 px" in err, err)

# gradcam --max-channels: scorecam with 2 of the 4 channels; a negative count is refused.
rc, res, err = gradcam_json("--method", "scorecam", "--max-channels", "2", model("tiny_softmax.h5"),
                            image("photo.png"))
check("scorecam --max-channels 2: exit 0", rc == 0 and res is not None, err)
rc, out, err = run("gradcam", "--method", "scorecam", "--max-channels", "-1",
                   model("tiny_softmax.h5"), image("photo.png"))
check("scorecam --max-channels -1: usage error", rc == 1, (rc, err))

shutil.rmtree(tmp, ignore_errors=True)

print("1..%d" % len(results))
failed = 0
for i, (name, ok, detail) in enumerate(results, 1):
    print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
    if not ok:
        failed += 1
        for line in str(detail)[:2000].splitlines():
            print("# " + line); print("# " + line, file=sys.stderr)  # meson shows stderr
sys.exit(1 if failed else 0)
