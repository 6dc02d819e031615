#!/usr/bin/python3
"""Independent check of a .h5 file written by test-keras-writer with h5py.

Usage: check-keras-h5.py FILE sequential|functional
Weights were filled by the C test with value[i] = sin(0.37 i + 1.3 l) for
weight l (counting over the model's weights in order) and element i.
"""
import json
import sys

import h5py
import numpy as np


def s(v):
    return v.decode("utf8") if isinstance(v, bytes) else str(v)


def main():
    path, kind = sys.argv[1], sys.argv[2]
    f = h5py.File(path, "r")
    assert s(f.attrs["backend"]) == "tensorflow", f.attrs["backend"]
    assert s(f.attrs["keras_version"]).startswith("2."), f.attrs["keras_version"]
    assert "Mirada" in s(f.attrs["mirada_writer"])
    # Keras 2 writes model_config as bytes (fixed-length string)
    assert isinstance(f.attrs["model_config"], bytes)
    cfg = json.loads(f.attrs["model_config"].decode("utf8"))
    layers = cfg["config"]["layers"]
    mw = f["model_weights"]
    assert s(mw.attrs["backend"]) == "tensorflow"
    assert s(mw.attrs["keras_version"]).startswith("2.")
    names = [s(n) for n in mw.attrs["layer_names"]]

    if kind == "sequential":
        assert cfg["class_name"] == "Sequential", cfg["class_name"]
        classes = [l["class_name"] for l in layers]
        assert classes == ["InputLayer", "Conv2D", "Flatten", "Dense"], classes
        assert layers[0]["config"]["batch_input_shape"] == [None, 6, 5, 2]
        assert layers[1]["config"]["filters"] == 3
        assert layers[1]["config"]["name"] == "conv2d"
        assert layers[3]["config"]["activation"] == "softmax"
        # Sequential.layers leaves out the InputLayer
        assert names == ["conv2d", "flatten", "dense"], names
        shapes = {"conv2d/kernel:0": (3, 3, 2, 3), "conv2d/bias:0": (3,),
                  "dense/kernel:0": (90, 4), "dense/bias:0": (4,)}
        order = ["conv2d/kernel:0", "conv2d/bias:0", "dense/kernel:0", "dense/bias:0"]
    else:
        assert cfg["class_name"] == "Functional", cfg["class_name"]
        by_name = {l["name"]: l for l in layers}
        assert [l["class_name"] for l in layers] == ["InputLayer", "Dense", "Dense", "Add", "Dense"]
        assert by_name["input_1"]["inbound_nodes"] == []
        assert by_name["a"]["inbound_nodes"] == [[["input_1", 0, 0, {}]]]
        assert by_name["b"]["inbound_nodes"] == [[["input_1", 0, 0, {}]]]
        assert by_name["add"]["inbound_nodes"] == [[["a", 0, 0, {}], ["b", 0, 0, {}]]]
        assert by_name["out"]["inbound_nodes"] == [[["add", 0, 0, {}]]]
        assert cfg["config"]["input_layers"] == [["input_1", 0, 0]]
        assert cfg["config"]["output_layers"] == [["out", 0, 0]]
        assert names == ["input_1", "a", "b", "add", "out"], names
        shapes = {"a/kernel:0": (3, 4), "a/bias:0": (4,), "b/kernel:0": (3, 4),
                  "b/bias:0": (4,), "out/kernel:0": (4, 2), "out/bias:0": (2,)}
        order = ["a/kernel:0", "a/bias:0", "b/kernel:0", "b/bias:0", "out/kernel:0", "out/bias:0"]

    got_order = []
    for n in names:
        g = mw[n]
        wn = g.attrs["weight_names"]
        if len(wn) == 0:
            continue
        for w in wn:
            w = s(w)
            got_order.append(w)
            d = g[w]
            assert d.dtype == np.float32, (w, d.dtype)
            assert d.shape == shapes[w], (w, d.shape)
    assert got_order == order, got_order
    worst = 0.0
    for l, w in enumerate(order):
        d = mw[w.split("/")[0]][w][()]
        want = np.sin(0.37 * np.arange(d.size) + 1.3 * l).astype(np.float32).reshape(d.shape)
        worst = max(worst, float(np.abs(d - want).max()))
    # the C side computes sinf-like values in double then rounds to float32
    assert worst <= 1e-6, worst
    print("ok", kind, len(order), "weights, worst", worst)


main()
