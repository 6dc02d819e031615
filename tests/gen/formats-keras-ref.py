#!/usr/bin/python3
"""Reference outputs for the .keras fixtures in tests/test-formats.c.

    /usr/bin/python3 tests/gen/formats-keras-ref.py OUTDIR FIXTURE.keras...

Reads each archive with zipfile + h5py (weights file opened from memory),
maps the weights the way Keras 3's saving_lib names them
(layers/<snake_case class>[_N]/vars/<i>), runs the Sequential model in plain
numpy (Conv2D, BatchNormalization, MaxPooling2D, Dropout, Flatten, Dense) on
a batch of two fixed inputs x[i] = ((i * 37) % 256) / 255 (flat NHWC index)
and writes OUTDIR/<file>.ref.json with the output and per-weight sums.
"""
import io
import json
import os
import re
import sys
import zipfile

import h5py
import numpy as np


def snake(name):
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def act(x, a):
    if a in (None, "linear"):
        return x
    if a == "relu":
        return np.maximum(x, 0)
    if a == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise ValueError(a)


def conv2d(x, k, b, strides, padding):
    n, h, w, c = x.shape
    kh, kw, _, f = k.shape
    if padding == "same":
        ph, pw = kh - 1, kw - 1
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    oh = (x.shape[1] - kh) // strides[0] + 1
    ow = (x.shape[2] - kw) // strides[1] + 1
    y = np.zeros((n, oh, ow, f), np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i:i + oh * strides[0]:strides[0], j:j + ow * strides[1]:strides[1], :]
            y += patch @ k[i, j]
    return y + b


def maxpool(x, pool, strides):
    n, h, w, c = x.shape
    oh = (h - pool[0]) // strides[0] + 1
    ow = (w - pool[1]) // strides[1] + 1
    y = np.full((n, oh, ow, c), -np.inf)
    for i in range(pool[0]):
        for j in range(pool[1]):
            y = np.maximum(y, x[:, i:i + oh * strides[0]:strides[0], j:j + ow * strides[1]:strides[1], :])
    return y


def run(path, outdir):
    z = zipfile.ZipFile(path)
    cfg = json.loads(z.read("config.json"))
    h5 = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
    layers = cfg["config"]["layers"]
    used = {}
    shape = layers[0]["config"]["batch_shape"][1:]
    n = 2 * int(np.prod(shape))
    x = (((np.arange(n) * 37) % 256) / 255.0).reshape([2] + shape)
    sums = []
    for e in layers:
        cls, c = e["class_name"], e["config"]
        if cls == "InputLayer":
            continue  # Sequential.layers leaves it out
        key = snake(cls)
        if key in used:
            used[key] += 1
            key = "%s_%d" % (key, used[key])
        else:
            used[key] = 0
        g = h5["layers"][key]["vars"]
        w = [np.array(g[str(i)], np.float64) for i in range(len(g))]
        for i, v in enumerate(w):
            sums.append({"layer": c["name"], "index": i, "shape": list(v.shape),
                         "sum": float(v.sum())})
        if cls == "InputLayer":
            continue
        if cls == "Conv2D":
            x = act(conv2d(x, w[0], w[1] if c["use_bias"] else 0, c["strides"], c["padding"]),
                    c["activation"])
        elif cls == "BatchNormalization":
            gamma, beta, mean, var = w
            x = (x - mean) / np.sqrt(var + c["epsilon"]) * gamma + beta
        elif cls == "MaxPooling2D":
            x = maxpool(x, c["pool_size"], c["strides"] or c["pool_size"])
        elif cls == "Dropout":
            pass
        elif cls == "Flatten":
            x = x.reshape(x.shape[0], -1)
        elif cls == "Dense":
            x = act(x @ w[0] + (w[1] if c["use_bias"] else 0), c["activation"])
        else:
            raise ValueError(cls)
    out = {"reference": "numpy", "input": "((i*37)%256)/255", "shape": list(x.shape),
           "output": [float(v) for v in x.ravel()], "weights": sums}
    with open(os.path.join(outdir, os.path.basename(path) + ".ref.json"), "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    for p in sys.argv[2:]:
        run(p, sys.argv[1])
