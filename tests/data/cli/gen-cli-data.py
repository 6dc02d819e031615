#!/usr/bin/python3
"""Regenerates the data test-cli.py uses (run with /usr/bin/python3: Pillow,
numpy and h5py).  Writes, next to this script:

  images:  photo.png (64x48 RGB), alpha.png (40x40 RGBA), grey.png (30x30 L),
           rotated.jpg (photo stored sideways with EXIF orientation 6)
  models:  tiny_softmax.h5 (+ .mirada.json: class names, "scale"),
           tiny_sigmoid.h5 (+ .mirada.json: "tf", "bilinear"; + .labels.txt),
           tiny_grey.h5 (1-channel input, no sidecar: raw 0..255)
           all Keras 2 HDF5 files laid out as Keras 2.13 writes them
  expected.json: per model and image, the probabilities Keras would give:
           PIL decoding (EXIF orientation applied), convert("RGB") or ("L"),
           load_img-style NEAREST resize (Pillow) or tf.image.resize bilinear
           (half-pixel centres, written here in numpy), the preprocessing,
           then the network in numpy float64.
"""
import json
import os

import h5py
import numpy as np
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(2024)


def path(name):
    return os.path.join(HERE, name)


# ---------------------------------------------------------------- images
yy, xx = np.mgrid[0:48, 0:64]
photo = np.stack([(xx * 4) % 256, (yy * 5) % 256, ((xx + yy) * 3) % 256], -1).astype(np.uint8)
photo[10:30, 20:40] = [250, 40, 30]  # a red block
Image.fromarray(photo, "RGB").save(path("photo.png"))

ya, xa = np.mgrid[0:40, 0:40]
rgba = np.stack([xa * 6, ya * 6, 255 - xa * 3, (xa + ya) * 3], -1).astype(np.uint8)
Image.fromarray(rgba, "RGBA").save(path("alpha.png"))

yg, xg = np.mgrid[0:30, 0:30]
Image.fromarray(((xg * 7 + yg * 3) % 256).astype(np.uint8), "L").save(path("grey.png"))

# Stored rotated 90 degrees counter-clockwise; orientation 6 says "turn it
# 90 degrees clockwise to show", which gives the photo back.
sideways = Image.fromarray(photo, "RGB").transpose(Image.Transpose.ROTATE_90)
exif = Image.Exif()
exif[0x0112] = 6
sideways.save(path("rotated.jpg"), quality=95, exif=exif.tobytes())


# ---------------------------------------------------------------- models
def conv_config(name, filters, k, activation):
    return {"class_name": "Conv2D", "config": {
        "name": name, "trainable": True, "dtype": "float32", "filters": filters,
        "kernel_size": [k, k], "strides": [1, 1], "padding": "valid",
        "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
        "activation": activation, "use_bias": True}}


def dense_config(name, units, activation):
    return {"class_name": "Dense", "config": {
        "name": name, "trainable": True, "dtype": "float32", "units": units,
        "activation": activation, "use_bias": True}}


def write_model(filename, name, input_shape, layers, weights):
    """layers: Keras layer configs after the input; weights: {layer: [arrays]}."""
    config = {"class_name": "Sequential", "config": {"name": name, "layers": [
        {"class_name": "InputLayer", "config": {
            "batch_input_shape": [None] + list(input_shape), "dtype": "float32",
            "sparse": False, "ragged": False, "name": name + "_input"}}] + layers}}
    with h5py.File(path(filename), "w") as f:
        f.attrs["backend"] = "tensorflow"
        f.attrs["keras_version"] = "2.13.1"
        f.attrs["model_config"] = json.dumps(config)
        mw = f.create_group("model_weights")
        names = [l["config"]["name"] for l in layers]
        mw.attrs["layer_names"] = np.array([n.encode() for n in names])
        mw.attrs["backend"] = "tensorflow"
        mw.attrs["keras_version"] = "2.13.1"
        for n in names:
            g = mw.create_group(n)
            ws = weights.get(n, [])
            wnames = ["%s/%s:0" % (n, w) for w in (["kernel", "bias"][:len(ws)])]
            g.attrs["weight_names"] = np.array([w.encode() for w in wnames])
            for wn, arr in zip(wnames, ws):
                g.create_dataset(wn, data=arr.astype(np.float32))


def conv_valid(x, k, b):
    kh, kw, _, co = k.shape
    h, w = x.shape[0] - kh + 1, x.shape[1] - kw + 1
    out = np.zeros((h, w, co))
    for i in range(kh):
        for j in range(kw):
            out += np.tensordot(x[i:i + h, j:j + w, :], k[i, j], axes=([2], [0]))
    return out + b


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


f32 = lambda a: a.astype(np.float32).astype(np.float64)  # what the file stores

soft_k = f32(rng.uniform(-1.5, 1.5, (3, 3, 3, 4)))
soft_b = f32(rng.uniform(-0.1, 0.1, 4))
soft_dk = f32(rng.uniform(-6, 6, (4, 3)))
soft_db = f32(rng.uniform(-0.1, 0.1, 3))
write_model("tiny_softmax.h5", "tiny_softmax", (16, 16, 3),
            [conv_config("conv", 4, 3, "relu"),
             {"class_name": "GlobalAveragePooling2D", "config": {
                 "name": "gap", "trainable": True, "dtype": "float32",
                 "data_format": "channels_last", "keepdims": False}},
             dense_config("probs", 3, "softmax")],
            {"conv": [soft_k, soft_b], "probs": [soft_dk, soft_db]})
with open(path("tiny_softmax.mirada.json"), "w") as f:
    json.dump({"mirada": 1, "class_names": ["red", "green", "blue"], "preprocess": "scale"}, f,
              indent=2)
    f.write("\n")

sig_k = f32(rng.uniform(-4, 4, (3, 1)))
sig_b = f32(np.array([0.05]))
write_model("tiny_sigmoid.h5", "tiny_sigmoid", (8, 8, 3),
            [{"class_name": "GlobalAveragePooling2D", "config": {
                "name": "gap", "trainable": True, "dtype": "float32",
                "data_format": "channels_last", "keepdims": False}},
             dense_config("p", 1, "sigmoid")],
            {"p": [sig_k, sig_b]})
with open(path("tiny_sigmoid.mirada.json"), "w") as f:
    json.dump({"mirada": 1, "preprocess": "tf", "resize": "bilinear"}, f, indent=2)
    f.write("\n")
with open(path("tiny_sigmoid.labels.txt"), "w") as f:
    f.write("cat\ndog\n")

grey_k = f32(rng.uniform(-0.005, 0.02, (3, 3, 1, 2)))
grey_b = f32(rng.uniform(-0.5, 0.5, 2))
grey_dk = f32(rng.uniform(-0.01, 0.01, (200, 4)))
grey_db = f32(rng.uniform(-0.1, 0.1, 4))
write_model("tiny_grey.h5", "tiny_grey", (12, 12, 1),
            [conv_config("conv", 2, 3, "relu"),
             {"class_name": "Flatten", "config": {"name": "flat", "trainable": True,
                                                  "dtype": "float32",
                                                  "data_format": "channels_last"}},
             dense_config("probs", 4, "softmax")],
            {"conv": [grey_k, grey_b], "probs": [grey_dk, grey_db]})


# ---------------------------------------------------------------- references
def load(name, mode):
    im = ImageOps.exif_transpose(Image.open(path(name)))
    return im.convert(mode)


def resize_bilinear_tf(a, h, w):
    """tf.image.resize(method="bilinear", antialias=False): half-pixel centres."""
    a = a.astype(np.float64)

    def taps(n_in, n_out):
        pos = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        lo = np.floor(pos)
        frac = pos - lo
        lo_i = np.clip(lo.astype(int), 0, n_in - 1)
        hi_i = np.clip(np.ceil(pos).astype(int), 0, n_in - 1)
        return lo_i, hi_i, frac

    ylo, yhi, fy = taps(a.shape[0], h)
    xlo, xhi, fx = taps(a.shape[1], w)
    top = a[ylo][:, xlo] * (1 - fx)[None, :, None] + a[ylo][:, xhi] * fx[None, :, None]
    bot = a[yhi][:, xlo] * (1 - fx)[None, :, None] + a[yhi][:, xhi] * fx[None, :, None]
    return top * (1 - fy)[:, None, None] + bot * fy[:, None, None]


expected = {}
images = ["photo.png", "alpha.png", "grey.png", "rotated.jpg"]
for name in images:
    rgb = load(name, "RGB")
    x = np.asarray(rgb.resize((16, 16), Image.NEAREST), np.float64) / 255.0
    expected.setdefault("tiny_softmax.h5", {})[name] = list(
        softmax(conv_valid(x, soft_k, soft_b).clip(0).mean((0, 1)) @ soft_dk + soft_db))

    x = resize_bilinear_tf(np.asarray(rgb), 8, 8) / 127.5 - 1
    p = sigmoid(x.mean((0, 1)) @ sig_k + sig_b)[0]
    expected.setdefault("tiny_sigmoid.h5", {})[name] = [float(p)]

    g = np.asarray(load(name, "L").resize((12, 12), Image.NEAREST), np.float64)[:, :, None]
    h = conv_valid(g, grey_k, grey_b).clip(0).reshape(-1)
    expected.setdefault("tiny_grey.h5", {})[name] = list(softmax(h @ grey_dk + grey_db))

with open(path("expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
    f.write("\n")
