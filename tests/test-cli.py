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

shutil.rmtree(tmp, ignore_errors=True)

print("1..%d" % len(results))
failed = 0
for i, (name, ok, detail) in enumerate(results, 1):
    print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
    if not ok:
        failed += 1
        for line in str(detail)[:2000].splitlines():
            print("# " + line)
sys.exit(1 if failed else 0)
