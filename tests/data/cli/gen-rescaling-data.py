#!/usr/bin/python3
"""Writes tiny_rescaling.h5 next to this script (run with /usr/bin/python3:
numpy and h5py): a Keras 2 HDF5 model that scales its own input,
Input(8, 8, 3) -> Rescaling(1/255) -> Flatten -> Dense(3, softmax), laid out
as Keras 2.13 writes it.  test-preprocess-note.py uses it: a model whose
layers say how its input is scaled needs no note about it.
"""
import json
import os

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(16)

layers = [
    {"class_name": "Rescaling", "config": {
        "name": "rescaling", "trainable": True, "dtype": "float32",
        "scale": 1.0 / 255, "offset": 0.0}},
    {"class_name": "Flatten", "config": {
        "name": "flatten", "trainable": True, "dtype": "float32",
        "data_format": "channels_last"}},
    {"class_name": "Dense", "config": {
        "name": "dense", "trainable": True, "dtype": "float32", "units": 3,
        "activation": "softmax", "use_bias": True}},
]
config = {"class_name": "Sequential", "config": {"name": "tiny_rescaling", "layers": [
    {"class_name": "InputLayer", "config": {
        "batch_input_shape": [None, 8, 8, 3], "dtype": "float32", "sparse": False,
        "ragged": False, "name": "tiny_rescaling_input"}}] + layers}}
weights = {"dense": [rng.normal(0, 0.3, (8 * 8 * 3, 3)), rng.normal(0, 0.1, (3,))]}

with h5py.File(os.path.join(HERE, "tiny_rescaling.h5"), "w") as f:
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
        wnames = ["%s/%s:0" % (n, w) for w in ["kernel", "bias"][:len(ws)]]
        g.attrs["weight_names"] = np.array([w.encode() for w in wnames])
        for wn, arr in zip(wnames, ws):
            g.create_dataset(wn, data=arr.astype(np.float32))
