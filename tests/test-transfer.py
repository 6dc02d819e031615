#!/usr/bin/python3
"""Transfer learning and continued training (issue 21), as seed 002 does it
with keras.applications(include_top=False) and a new head:

- `train --base arch:mobilenetv2,alpha=0.35,size=32` on class folders builds
  the base without its classifier plus GlobalAveragePooling2D + Dense(K,
  softmax), trains it and saves it;
- that file is a weights file for the next run: `--base …,weights=FILE
  --freeze-base` on other classes (another head size) keeps every base tensor
  (kernels, BatchNormalization's moving statistics) bit for bit equal to FILE
  (read back with h5py), marks the base layers "trainable": false in the saved
  config and changes the head; without --freeze-base the base changes;
- `--init MODEL` continues training a saved model: its classes and layers are
  kept and the weights move;
- bad combinations and a weights file of another architecture are refused
  with one clear line.

    test-transfer.py MIRADA          Prints TAP.
"""
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

from pngio import png_write
from tap import check, finish

MIRADA = os.path.abspath(sys.argv[1])
BASE = "arch:mobilenetv2,alpha=0.35,size=32"



def make_dataset(root, kind, classes, n=16, seed=0):
    rng = np.random.default_rng(seed)
    for ci, c in enumerate(classes):
        os.makedirs(os.path.join(root, c))
        for k in range(n):
            img = rng.integers(0, 80, (32, 32, 3)).astype(np.uint8)
            if kind == "colour":
                img[:, :, ci] += 120
            else:
                yy, xx = np.mgrid[:32, :32]
                cy, cx = rng.integers(10, 22, 2)
                m = ((yy - cy) ** 2 + (xx - cx) ** 2 < 49) if ci == 0 else \
                    ((abs(yy - cy) < 6) & (abs(xx - cx) < 6))
                img[m] = 220
            png_write(os.path.join(root, c, f"{k}.png"), img)


def run(*args):
    p = subprocess.run([MIRADA] + list(args), capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr


def tensors(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]
        f["model_weights"].visititems(visit)
        config = json.loads(f.attrs["model_config"])
    return out, config


def layers_of(config):
    return {l["config"]["name"]: l for l in config["config"]["layers"]}


with tempfile.TemporaryDirectory() as tmp:
    colours, shapes = os.path.join(tmp, "colours"), os.path.join(tmp, "formas")
    make_dataset(colours, "colour", ["rojo", "verde", "azul"])
    make_dataset(shapes, "shape", ["círculo", "cuadrado"], seed=1)
    pre, frozen, tuned, cont = (os.path.join(tmp, n) for n in
                                ("pre.h5", "frozen.h5", "tuned.h5", "cont.h5"))
    common = ["--epochs", "2", "--batch", "16", "--seed", "3"]

    rc, out, err = run("train", "--base", BASE, "--dataset", colours, "-o", pre, *common)
    check(rc == 0, "--base on class folders: trains and saves", err)
    if rc == 0:
        w_pre, c_pre = tensors(pre)
        layers = layers_of(c_pre)
        head = layers.get("head_predictions", {}).get("config", {})
        check(head.get("units") == 3 and head.get("activation") == "softmax" and
              layers.get("head_pool", {}).get("class_name") == "GlobalAveragePooling2D" and
              "Conv1" in layers and not any(n == "predictions" for n in layers),
              "the base without its classifier + GAP + Dense(3, softmax)",
              json.dumps(head))

        rc, out, err = run("train", "--base", f"{BASE},weights={pre}", "--freeze-base",
                           "--dataset", shapes, "-o", frozen, "--lr", "0.01", *common)
        check(rc == 0 and "frozen" in out, "--base weights=FILE --freeze-base: trains the head",
              out + err)
        if rc == 0:
            w_fr, c_fr = tensors(frozen)
            base_keys = [k for k in w_fr if not k.startswith("head_")]
            same = [k for k in base_keys if k in w_pre and np.array_equal(w_pre[k], w_fr[k])]
            stats = [k for k in base_keys if "moving_" in k]
            check(len(base_keys) > 200 and len(same) == len(base_keys) and stats,
                  f"frozen base: all {len(base_keys)} base tensors (with {len(stats)} moving "
                  "statistics) equal to the weights file's",
                  f"{len(same)} of {len(base_keys)} equal")
            kernel = [v for k, v in w_fr.items() if k.startswith("head_predictions") and
                      v.ndim == 2]
            check(len(kernel) == 1 and kernel[0].shape[1] == 2,
                  "the new head has 2 outputs for the 2 new classes",
                  str([k.shape for k in kernel]))
            tl = layers_of(c_fr)
            base_flags = [l["config"].get("trainable") for n, l in tl.items()
                          if not n.startswith("head_") and l["class_name"] in
                          ("Conv2D", "DepthwiseConv2D", "BatchNormalization")]
            check(base_flags and all(f is False for f in base_flags) and
                  tl["head_predictions"]["config"].get("trainable") is True,
                  "saved config: base layers trainable false, head true",
                  str(base_flags[:5]))

            rc, out, err = run("train", "--init", frozen, "--dataset", shapes, "-o", cont,
                               "--lr", "0.01", *common)
            check(rc == 0, "--init MODEL: continues training", err)
            if rc == 0:
                w_c, c_c = tensors(cont)
                moved = [k for k in w_c if k.startswith("head_") and
                         not np.array_equal(w_c[k], w_fr[k])]
                still = all(np.array_equal(w_c[k], w_fr[k]) for k in base_keys)
                check(moved and still and set(w_c) == set(w_fr),
                      "--init: same layers, the head moved, the base stayed frozen (as saved)",
                      f"moved {moved}, base unchanged {still}")

        rc, out, err = run("train", "--base", f"{BASE},weights={pre}", "--dataset", shapes,
                           "-o", tuned, *common)
        check(rc == 0, "--base weights=FILE without --freeze-base: fine-tunes", err)
        if rc == 0:
            w_t, _ = tensors(tuned)
            changed = [k for k in w_t if not k.startswith("head_") and "kernel" in k and
                       k in w_pre and not np.array_equal(w_pre[k], w_t[k])]
            check(len(changed) > 10, f"fine-tuning changes the base ({len(changed)} kernels)")

    for args, what in ((["--freeze-base"], "--freeze-base without --base"),
                       (["--base", "arch:nope"], "--base arch:nope"),
                       (["--base", BASE, "--arch", "default"], "--base with --arch"),
                       (["--base", "arch:mobilenetv2,size=3"], "--base size=3")):
        rc, out, err = run("train", "--dataset", shapes, "-o", os.path.join(tmp, "x.h5"), *args)
        check(rc == 1 and err.count("\n") <= 2 and "mirada" in err,
              f"{what}: usage error, exit 1", f"exit {rc}: {err}")
    if os.path.exists(pre):
        rc, out, err = run("train", "--base", f"arch:vgg16,size=32,weights={pre}",
                           "--dataset", shapes, "-o", os.path.join(tmp, "y.h5"), *common)
        check(rc == 2 and "block1_conv1" in err and err.count("\n") == 1,
              "weights of another architecture: exit 2, names the missing layer", err)
finish()
