#!/usr/bin/python3
"""Writes tests/data/malformed/: broken models, images, sidecars, grids and
ground-truth files, each of which `mirada` must refuse with exit code 2 and
one clear stderr line (tests/test-malformed.py runs them).

    /usr/bin/python3 tests/gen/make-malformed.py

Deterministic (no randomness, no timestamps in the HDF5 files), so running
it again gives the same files.  EXPECTED.tsv lists, per case: the case
name, the command (run in tests/data/malformed/; GOOD is good.h5, a valid
tiny model, IMAGE a valid 8×8 PNG, GRID a valid grid), the exit code and a
substring the stderr line must contain.  The substrings were chosen by
reading each message for whether it tells a user what is wrong.
"""
import json
import os
import shutil
import struct
import zipfile
import zlib

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "malformed")
cases = []  # (name, command, exit code, substring)


def case(name, command, substring, code=2):
    cases.append((name, command, code, substring))


def path(name):
    return os.path.join(OUT, name)


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))


# ---------------------------------------------------------------- models

def layer(cls, name, inbound=None, **config):
    entry = {"class_name": cls, "name": name, "config": dict(name=name, **config)}
    if inbound is not None:
        entry["inbound_nodes"] = [[[i, 0, 0, {}] for i in inbound]] if inbound else []
    return entry


def sequential(layers):
    return {"class_name": "Sequential", "config": {"name": "s", "layers": layers}}


def functional(layers, inputs, outputs):
    return {"class_name": "Functional",
            "config": {"name": "m", "layers": layers,
                       "input_layers": [[i, 0, 0] for i in inputs],
                       "output_layers": [[o, 0, 0] for o in outputs]}}


GOOD_LAYERS = [
    layer("InputLayer", "x", batch_input_shape=[None, 4, 4, 3], dtype="float32"),
    layer("GlobalAveragePooling2D", "gap"),
    layer("Dense", "d", units=2, activation="softmax", use_bias=True),
]
RNG = np.random.default_rng(7)
KERNEL = RNG.uniform(-1, 1, (3, 2)).astype(np.float32)
BIAS = np.array([0.1, -0.1], np.float32)


def save_h5(name, config, weights=True, kernel=KERNEL, bias=BIAS, keras_version="2.4.0",
            extra=None):
    """A Keras 2 style .h5 file; @extra(f) may damage it further."""
    with h5py.File(path(name), "w", track_order=False) as f:
        if config is not None:
            f.attrs["model_config"] = config if isinstance(config, (str, bytes, np.generic)) \
                else json.dumps(config)
        f.attrs["keras_version"] = keras_version
        f.attrs["backend"] = "tensorflow"
        if weights:
            mw = f.create_group("model_weights")
            mw.attrs["layer_names"] = np.array([b"x", b"gap", b"d"])
            for n in ("x", "gap"):
                mw.create_group(n).attrs["weight_names"] = np.array([], dtype="S1")
            d = mw.create_group("d")
            d.attrs["weight_names"] = np.array([b"d/kernel:0", b"d/bias:0"])
            if kernel is not None:
                d.create_dataset("d/kernel:0", data=kernel)
            if bias is not None:
                d.create_dataset("d/bias:0", data=bias)
        if extra:
            extra(f)


os.makedirs(OUT, exist_ok=True)
for old in os.listdir(OUT):
    if os.path.isdir(path(old)):
        shutil.rmtree(path(old))
    else:
        os.unlink(path(old))

GOOD = sequential(GOOD_LAYERS)
save_h5("good.h5", GOOD)
good_bytes = open(path("good.h5"), "rb").read()

# Broken HDF5 containers.
write("h5-truncated-half.h5", good_bytes[: len(good_bytes) // 2])
case("h5-truncated-half", "info h5-truncated-half.h5", "truncated")
write("h5-truncated-superblock.h5", good_bytes[:40])
case("h5-truncated-superblock", "info h5-truncated-superblock.h5", "h5-truncated-superblock.h5")
write("h5-signature-only.h5", good_bytes[:8])
case("h5-signature-only", "info h5-signature-only.h5", "h5-signature-only.h5")
write("h5-tail-cut.h5", good_bytes[:-200])
case("h5-tail-cut", "info h5-tail-cut.h5", "truncated")
# Superblock v0: end-of-file address at offset 40 (8 bytes) claims 1 TB.
b = bytearray(good_bytes)
b[40:48] = struct.pack("<Q", 1 << 40)
write("h5-eof-huge.h5", bytes(b))
case("h5-eof-huge", "info h5-eof-huge.h5", "truncated")
# Root symbol table address pointing past the end.
b = bytearray(good_bytes)
b[64:72] = struct.pack("<Q", len(good_bytes) + 4096)
write("h5-root-past-end.h5", bytes(b))
case("h5-root-past-end", "info h5-root-past-end.h5", "h5-root-past-end.h5")
write("h5-zeroed-middle.h5", good_bytes[:512] + bytes(len(good_bytes) - 512))
case("h5-zeroed-middle", "info h5-zeroed-middle.h5", "h5-zeroed-middle.h5")


# libhdf5 1.10.8 hangs or crashes on these (fuzz/README.md); Mirada reads
# HDF5 in the mirada-h5-reader process, so they end in a clear error
# (test-malformed.py sets MIRADA_H5_TIMEOUT=5 for the hangs).  Each changes
# the size of the first object of the global heap holding the
# variable-length model_config string (the GCOL collection; the size field
# is 24 bytes in).
def heap_object_size(name, byte, value, substring):
    gcol = good_bytes.index(b"GCOL")
    data = bytearray(good_bytes)
    data[gcol + 24 + byte] = value
    write(name + ".h5", bytes(data))
    case(name, "info %s.h5" % name, substring)


heap_object_size("h5-libhdf5-hang-heap", 0, 0xff, "did not finish reading")
heap_object_size("h5-libhdf5-hang-heap2", 1, 0x02, "did not finish reading")
heap_object_size("h5-libhdf5-crash-heap", 3, 0x80, "crashed reading")
heap_object_size("h5-libhdf5-crash-heap2", 7, 0x80, "crashed reading")
# Found by fuzz-keras-h5 (a 1-byte change of a 6 KB fixture), kept as found
# in fuzz/regressions/keras-h5/.
with open(os.path.join(HERE, "..", "..", "fuzz", "regressions", "keras-h5",
                       "libhdf5-hang-h5hg-read-vlen-attr.h5"), "rb") as f:
    write("h5-libhdf5-hang-vlen.h5", f.read())
case("h5-libhdf5-hang-vlen", "info h5-libhdf5-hang-vlen.h5", "did not finish reading")

# Not HDF5 at all.
write("empty.h5", b"")
case("empty-model", "info empty.h5", "not a model file")
write("text.h5", "this is not a model\n")
case("text-model", "info text.h5", "not a model file")
write("zip.h5", b"PK\x03\x04" + bytes(60))
case("zip-model", "info zip.h5", ".keras archive")
write("tfjs.h5", json.dumps({"format": "layers-model", "modelTopology": {}}))
case("tfjs-model", "info tfjs.h5", "modelTopology")

# Valid HDF5, wrong content.
save_h5("h5-noconfig.h5", None)
case("h5-noconfig", "info h5-noconfig.h5", "no model_config attribute")
save_h5("h5-config-syntax.h5", '{"class_name": "Sequential", "config": {')
case("h5-config-syntax", "info h5-config-syntax.h5", "JSON")
save_h5("h5-config-empty.h5", "")
case("h5-config-empty", "info h5-config-empty.h5", "it is empty")
save_h5("h5-config-array.h5", "[1, 2, 3]")
case("h5-config-array", "info h5-config-array.h5", "not a JSON object")
save_h5("h5-config-utf8.h5", np.bytes_(b'{"class_name": "\xff\xfe"}'))
case("h5-config-utf8", "info h5-config-utf8.h5", "h5-config-utf8.h5")
save_h5("h5-config-number.h5", None, extra=lambda f: f.attrs.__setitem__("model_config", 42))
case("h5-config-number", "info h5-config-number.h5", "model_config")
save_h5("h5-keras1.h5", GOOD, keras_version="1.2.2")
case("h5-keras1", "info h5-keras1.h5", "Keras 1.2.2")
save_h5("h5-no-weights.h5", GOOD, weights=False)
case("h5-no-weights", "info h5-no-weights.h5", "holds no Keras weights")

# Configs the graph builder must refuse.
save_h5("config-unknown-layer.h5", sequential(GOOD_LAYERS[:2] + [layer("FancyLayer", "f")]))
case("config-unknown-layer", "info config-unknown-layer.h5", "FancyLayer")
save_h5("config-no-class.h5", sequential([{"config": {"name": "a"}}]))
case("config-no-class", "info config-no-class.h5", "class_name")
save_h5("config-layers-not-list.h5", {"class_name": "Sequential", "config": {"layers": 5}})
case("config-layers-not-list", "info config-layers-not-list.h5", "layers")
cyc = functional([layer("InputLayer", "x", [], batch_input_shape=[None, 4]),
                  layer("Dense", "a", ["b"], units=4),
                  layer("Dense", "b", ["a"], units=4)], ["x"], ["b"])
save_h5("config-cycle.h5", cyc, weights=False)
case("config-cycle", "info config-cycle.h5", "form a cycle")
selfloop = functional([layer("InputLayer", "x", [], batch_input_shape=[None, 4]),
                       layer("Dense", "a", ["a"], units=4)], ["x"], ["a"])
save_h5("config-self-loop.h5", selfloop, weights=False)
case("config-self-loop", "info config-self-loop.h5", "form a cycle")
dangling = functional([layer("InputLayer", "x", [], batch_input_shape=[None, 4]),
                       layer("Dense", "a", ["ghost"], units=4)], ["x"], ["a"])
save_h5("config-dangling.h5", dangling, weights=False)
case("config-dangling", "info config-dangling.h5", "ghost")
badout = functional([layer("InputLayer", "x", [], batch_input_shape=[None, 4]),
                     layer("Dense", "a", ["x"], units=4)], ["x"], ["nowhere"])
save_h5("config-bad-output.h5", badout, weights=False)
case("config-bad-output", "info config-bad-output.h5", "nowhere")
save_h5("config-dup-names.h5", sequential(GOOD_LAYERS + [layer("Dense", "d", units=2)]),
        weights=False)
case("config-dup-names", "info config-dup-names.h5", "config-dup-names.h5")
save_h5("config-huge-units.h5", sequential(GOOD_LAYERS[:2] + [layer("Dense", "d", units=2**31)]),
        weights=False)
case("config-huge-units", "info config-huge-units.h5", "'units' must be between")
save_h5("config-billions.h5",
        sequential([layer("InputLayer", "x", batch_input_shape=[None, 60000]),
                    layer("Dense", "d1", units=60000), layer("Dense", "d2", units=60000)]),
        weights=False)
case("config-billions", "info config-billions.h5", "more parameters than Mirada accepts")
save_h5("config-shape-overflow.h5",
        sequential([layer("InputLayer", "x", batch_input_shape=[None, 65536, 65536, 65536]),
                    layer("Flatten", "f")]), weights=False)
# (Flatten's own overflow check is not reached any more: the input is past
# the per-example activation limit, MIR_MODEL_MAX_ACTIVATION, already.)
case("config-shape-overflow", "info config-shape-overflow.h5", "million values per example")
save_h5("config-negative-dim.h5",
        sequential([layer("InputLayer", "x", batch_input_shape=[None, -5, 3])]), weights=False)
case("config-negative-dim", "info config-negative-dim.h5", "outside 1..65536")
save_h5("config-empty-layer.h5",
        '{"class_name": "Sequential", "config": {"layers": [' + ",".join(["{}"] * 1000) + "]}}",
        weights=False)
case("config-empty-layer", "info config-empty-layer.h5", "no \"class_name\"")
save_h5("config-deep-json.h5", "[" * 100000 + "]" * 100000, weights=False)
case("config-deep-json", "info config-deep-json.h5", "Mirada reads at most 512 levels")
nested = GOOD
for i in range(80):
    nested = sequential([dict(nested, name="n%d" % i)])
save_h5("config-deep-nesting.h5", nested, weights=False)
case("config-deep-nesting", "info config-deep-nesting.h5", "nested more than")
save_h5("config-conv-kernel-too-big.h5",
        sequential([layer("InputLayer", "x", batch_input_shape=[None, 4, 4, 3]),
                    layer("Conv2D", "c", filters=2, kernel_size=[9, 9], padding="valid")]),
        weights=False)
case("config-conv-kernel-too-big", "info config-conv-kernel-too-big.h5", "larger than its input")

# Weights that do not fit the config.
save_h5("weights-shape.h5", GOOD, kernel=np.zeros((4, 2), np.float32))
case("weights-shape", "info weights-shape.h5", "(4, 2)")
save_h5("weights-dtype-string.h5", GOOD, kernel=np.array([[b"ab", b"cd"]] * 3))
case("weights-dtype-string", "info weights-dtype-string.h5", "float")
save_h5("weights-missing-dataset.h5", GOOD, bias=None)
case("weights-missing-dataset", "info weights-missing-dataset.h5", "d/bias:0")


def extra_layer_name(f):
    f["model_weights"].attrs["layer_names"] = np.array([b"x", b"gap", b"d", b"ghost"])
save_h5("weights-missing-group.h5", GOOD, extra=extra_layer_name)
case("weights-missing-group", "info weights-missing-group.h5", "ghost")


def extra_unknown_layer(f):
    f["model_weights"].attrs["layer_names"] = np.array([b"x", b"gap", b"d", b"other"])
    g = f["model_weights"].create_group("other")
    g.attrs["weight_names"] = np.array([b"other/kernel:0"])
    g.create_dataset("other/kernel:0", data=np.zeros(3, np.float32))
save_h5("weights-unknown-layer.h5", GOOD, extra=extra_unknown_layer)
case("weights-unknown-layer", "info weights-unknown-layer.h5", "other")


def extra_count(f):
    f["model_weights/d"].attrs["weight_names"] = np.array([b"d/kernel:0"])
save_h5("weights-count.h5", GOOD, extra=extra_count)
case("weights-count", "info weights-count.h5", "needs 2")


def extra_rank(f):
    del f["model_weights/d/d/kernel:0"]
    f["model_weights/d"].create_dataset("d/kernel:0", data=np.zeros((1,) * 9, np.float32))
save_h5("weights-rank.h5", GOOD, extra=extra_rank)
case("weights-rank", "info weights-rank.h5", "rank 9")


def extra_huge(f):
    del f["model_weights/d/d/kernel:0"]
    f["model_weights/d"].create_dataset("d/kernel:0", shape=(1 << 40,), dtype="f4",
                                        chunks=(1024,))
save_h5("weights-huge.h5", GOOD, extra=extra_huge)
case("weights-huge", "info weights-huge.h5", "larger than Mirada accepts")


def extra_names_float(f):
    f["model_weights"].attrs["layer_names"] = np.array([1.5, 2.5])
save_h5("weights-names-float.h5", GOOD, extra=extra_names_float)
case("weights-names-float", "info weights-names-float.h5", "layer_names")


def extra_nan(f):
    del f["model_weights/d/d/bias:0"]
    f["model_weights/d"].create_dataset("d/bias:0", data=np.array([np.nan, np.inf], np.float32))
save_h5("weights-nan.h5", GOOD, extra=extra_nan)
case("weights-nan", "predict weights-nan.h5 IMAGE", "not a finite number")

# ---------------------------------------------------------------- images


def png(width, height, rows=None, color_type=2, idat=None):
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    if idat is None:
        raw = b"".join(b"\x00" + bytes((x * 30 + y * 7) % 256 for x in range(width * 3))
                       for y in range(height)) if rows is None else rows
        idat = zlib.compress(raw)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) +
            chunk(b"IEND", b""))


write("image.png", png(8, 8))
good_png = open(path("image.png"), "rb").read()
write("img-text.png", "not an image at all\n")
case("img-text", "predict good.h5 img-text.png", "not an image Mirada can read")
write("img-empty.png", b"")
case("img-empty", "predict good.h5 img-empty.png", "not an image Mirada can read")
write("img-truncated.png", good_png[:50])
case("img-truncated", "predict good.h5 img-truncated.png", "img-truncated.png")
write("img-huge.png", png(100000, 100000, idat=zlib.compress(b"\x00" * 1000)))
case("img-huge", "predict good.h5 img-huge.png", "at most")
write("img-wide.png", png(16385, 1, idat=zlib.compress(b"\x00" * 100)))
case("img-wide", "predict good.h5 img-wide.png", "at most 16384")
write("img-many-pixels.png", png(16000, 16000, idat=zlib.compress(b"\x00" * 1000)))
case("img-many-pixels", "predict good.h5 img-many-pixels.png", "megapixels")
write("img-zero.png", png(0, 0, idat=b""))
case("img-zero", "predict good.h5 img-zero.png", "img-zero.png")
b = bytearray(good_png)
b[-20] ^= 0xff  # inside IDAT: bad CRC / bad deflate
write("img-bitflip.png", bytes(b))
case("img-bitflip", "predict good.h5 img-bitflip.png", "img-bitflip.png")
write("img-short-idat.png", png(64, 64, rows=b"\x00" * 100))
case("img-short-idat", "predict good.h5 img-short-idat.png", "img-short-idat.png")
# JPEG: SOI, a baseline SOF0 claiming 60000×60000, then nothing.
jpeg = bytearray(open(os.path.join(HERE, "..", "data", "cli", "rotated.jpg"), "rb").read())
sof = jpeg.index(b"\xff\xc0")
jpeg[sof + 5:sof + 9] = struct.pack(">HH", 60000, 60000)
write("img-huge.jpg", bytes(jpeg))
case("img-huge-jpeg", "predict good.h5 img-huge.jpg", "at most")
write("img-truncated.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
case("img-truncated-jpeg", "predict good.h5 img-truncated.jpg", "img-truncated.jpg")
# BMP claiming 50000×-50000 (top-down) with no pixels.
bmp = b"BM" + struct.pack("<IHHI", 54, 0, 0, 54) + \
    struct.pack("<IiiHHIIiiII", 40, 50000, -50000, 1, 24, 0, 0, 0, 0, 0, 0)
write("img-huge.bmp", bmp)
case("img-huge-bmp", "predict good.h5 img-huge.bmp", "img-huge.bmp")
write("img-gif-garbage.gif", b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\xf7\x00\x00")
case("img-gif-garbage", "predict good.h5 img-gif-garbage.gif", "img-gif-garbage.gif")

# ---------------------------------------------------------------- sidecars

def sidecar_case(name, sidecar=None, labels=None, substring=None):
    with open(path(name + ".h5"), "wb") as f:
        f.write(good_bytes)
    if sidecar is not None:
        write(name + ".mirada.json", sidecar)
    if labels is not None:
        write(name + ".labels.txt", labels)
    case(name, "info %s.h5" % name, substring)


sidecar_case("sidecar-syntax", sidecar='{"class_names": [', substring="sidecar-syntax.mirada.json")
sidecar_case("sidecar-array", sidecar="[1, 2]", substring="sidecar-array.mirada.json")
sidecar_case("sidecar-preprocess", sidecar='{"preprocess": "magic"}', substring="magic")
sidecar_case("sidecar-resize", sidecar='{"resize": 7}', substring="resize")
sidecar_case("sidecar-classes-type", sidecar='{"class_names": 5}', substring="class_names")
sidecar_case("sidecar-classes-items", sidecar='{"class_names": ["a", 3]}',
             substring="class_names")
sidecar_case("sidecar-utf8", sidecar=b'{"class_names": ["\xff"]}',
             substring="sidecar-utf8.mirada.json")
sidecar_case("labels-utf8", labels=b"cat\n\xff\xfedog\n", substring="labels-utf8.labels.txt")
write("labels-binary.txt", bytes(range(256)))
case("labels-binary-option", "predict good.h5 IMAGE --labels labels-binary.txt",
     "labels-binary.txt")

# ---------------------------------------------------------------- grids and truth

GRID = {"image_width": 8, "image_height": 8, "window": 4, "stride": 4,
        "classes": ["dog", "cat"],
        "probs": [[0.99, 0.01], [0.2, 0.8], [0.995, 0.005], [0.5, 0.5]]}
write("grid.json", json.dumps(GRID))


def grid_case(name, content, substring):
    write(name + ".json", content if isinstance(content, str) else json.dumps(content))
    case(name, "detect --grid %s.json" % name, substring)


grid_case("grid-syntax", '{"image_width": 8,', "grid-syntax.json")
grid_case("grid-array", "[]", "not a probability grid")
grid_case("grid-missing-window", {k: v for k, v in GRID.items() if k != "window"}, "window")
grid_case("grid-window-too-big", dict(GRID, window=20), "does not fit")
grid_case("grid-zero-stride", dict(GRID, stride=0), "Stride")
grid_case("grid-rows", dict(GRID, probs=GRID["probs"][:3]), "rows of probabilities")
grid_case("grid-prob-range", dict(GRID, probs=[[1.5, 0.0]] + GRID["probs"][1:]), "grid-prob-range.json")
grid_case("grid-prob-string", dict(GRID, probs=[["x", 0.0]] + GRID["probs"][1:]), "not a number")
grid_case("grid-class-number", dict(GRID, classes=[1, 2]), "not a string")
grid_case("grid-notebook-type", dict(GRID, notebook_layout="yes"), "notebook_layout")
grid_case("grid-huge", dict(GRID, image_width=2**31 - 1, image_height=2**31 - 1, stride=1),
          "grid-huge.json")
grid_case("grid-no-classes", dict(GRID, classes=[], probs=[[]] * 4), "grid-no-classes.json")


def truth_case(name, content, substring):
    write(name + ".json", content if isinstance(content, str) else json.dumps(content))
    case(name, "detect --grid GRID --truth %s.json" % name, substring)


truth_case("truth-syntax", '{"objects": [', "truth-syntax.json")
truth_case("truth-no-objects", {"image": "x.png"}, "objects")
truth_case("truth-class", {"objects": [{"class": "horse", "box": [0, 0, 4, 4]}]}, "the class “horse”, which the model does not have")
truth_case("truth-class-index", {"objects": [{"class": 7, "box": [0, 0, 4, 4]}]}, "unknown or missing")
truth_case("truth-box-length", {"objects": [{"class": "dog", "box": [0, 0, 4]}]}, "box")
truth_case("truth-box-negative", {"objects": [{"class": "dog", "box": [0, 0, -4, 4]}]}, "box")
truth_case("truth-box-string", {"objects": [{"class": "dog", "box": ["a", 0, 4, 4]}]}, "box")
truth_case("truth-object-type", {"objects": [5]}, "truth-object-type.json")

# ---------------------------------------------------------------- deep nesting (issue 24)
# json-glib's parser recurses once per level: 10 000 levels overflowed the
# stack.  Every kind of JSON file Mirada reads is nested that deep here.

DEEP = "[" * 10000 + "]" * 10000
DEEP_IN_OBJECT = '{"x": ' + DEEP + "}"


def keras_zip(name, config, metadata):
    # Fixed timestamps: the archive is the same on every run.
    with zipfile.ZipFile(path(name), "w") as z:
        for member, data in (("metadata.json", metadata), ("config.json", config)):
            z.writestr(zipfile.ZipInfo(member, (2024, 1, 1, 0, 0, 0)), data,
                       compress_type=zipfile.ZIP_DEFLATED)


keras_zip("keras-deep-config.keras", DEEP, '{"keras_version": "3.0.0"}')
case("keras-deep-config", "info keras-deep-config.keras", "Mirada reads at most 512 levels")
keras_zip("keras-deep-metadata.keras", json.dumps(sequential(GOOD_LAYERS)), DEEP_IN_OBJECT)
case("keras-deep-metadata", "info keras-deep-metadata.keras", "Mirada reads at most 64 levels")
write("tfjs-deep.json", '{"format": "layers-model", "modelTopology": ' + DEEP + "}")
case("tfjs-deep", "info tfjs-deep.json", "Mirada reads at most 512 levels")
# A valid TF.js layers model beside a Teachable Machine metadata.json nested
# too deeply.
os.makedirs(path("tfjs-deep-metadata"), exist_ok=True)
TFJS_MODEL = {"format": "layers-model",
              "modelTopology": {"model_config": sequential(GOOD_LAYERS)},
              "weightsManifest": [{"paths": ["weights.bin"],
                                   "weights": [{"name": "d/kernel", "shape": [3, 2],
                                                "dtype": "float32"},
                                               {"name": "d/bias", "shape": [2],
                                                "dtype": "float32"}]}]}
write("tfjs-deep-metadata/model.json", json.dumps(TFJS_MODEL))
write("tfjs-deep-metadata/weights.bin", KERNEL.tobytes() + BIAS.tobytes())
write("tfjs-deep-metadata/metadata.json", DEEP_IN_OBJECT)
case("tfjs-deep-metadata", "info tfjs-deep-metadata/model.json", "Mirada reads at most 64 levels")
sidecar_case("sidecar-deep", sidecar=DEEP_IN_OBJECT, substring="Mirada reads at most 64 levels")
grid_case("grid-deep", DEEP_IN_OBJECT, "Mirada reads at most 64 levels")
truth_case("truth-deep", DEEP_IN_OBJECT, "Mirada reads at most 64 levels")

# ---------------------------------------------------------------- class names (issue 24)
# Names that do not fit the outputs were used silently ("Classes (5)" for a
# 2-output model): refused.  good.h5 has 2 softmax outputs.
sidecar_case("sidecar-classes-count", sidecar='{"class_names": ["a", "b", "c", "d", "e"]}',
             substring="names 5 classes, but the model has 2 output units")
sidecar_case("labels-count", labels="a\nb\nc\n",
             substring="names 3 classes, but the model has 2 output units")
write("labels-three.txt", "a\nb\nc\n")
case("labels-count-option", "predict good.h5 IMAGE --labels labels-three.txt",
     "names 3 classes, but the model has 2 output units")
# A binary sigmoid model (one unit) takes one or two names, not three (the
# valid ones are checked by tests/test-special-files.py).
SIGMOID = sequential(GOOD_LAYERS[:2] + [layer("Dense", "d", units=1, activation="sigmoid",
                                              use_bias=True)])
save_h5("sigmoid.h5", SIGMOID, kernel=KERNEL[:, :1].copy(), bias=BIAS[:1].copy())
write("sigmoid-two.labels.txt", "cat\ndog\n")
write("sigmoid-three.labels.txt", "cat\ndog\nbird\n")
case("sigmoid-labels-count", "info sigmoid.h5 --labels sigmoid-three.labels.txt",
     "names 3 classes, but the model has one output unit")

# ---------------------------------------------------------------- issue 24, round two
# Allocation failures, decoder bombs, silent wrong success.


def keras3_weights(kernel=KERNEL, bias=BIAS):
    """model.weights.h5 of GOOD_LAYERS as Keras 3 writes it (layers/dense/vars/N)."""
    import io
    buf = io.BytesIO()
    with h5py.File(buf, "w", track_order=False) as f:
        v = f.create_group("layers").create_group("dense").create_group("vars")
        v.create_dataset("0", data=kernel)
        v.create_dataset("1", data=bias)
        f.create_group("layers/global_average_pooling2d/vars")
    return buf.getvalue()


def keras_archive(name, members):
    """members: (name, bytes or str, compress_type); fixed timestamps."""
    with zipfile.ZipFile(path(name), "w") as z:
        for member, data, kind in members:
            z.writestr(zipfile.ZipInfo(member, (2024, 1, 1, 0, 0, 0)), data, compress_type=kind)


GOOD_CONFIG = json.dumps(sequential(GOOD_LAYERS))
META = '{"keras_version": "3.0.0"}'
WEIGHTS3 = keras3_weights()
keras_archive("good.keras", [("metadata.json", META, zipfile.ZIP_DEFLATED),
                             ("config.json", GOOD_CONFIG, zipfile.ZIP_DEFLATED),
                             ("model.weights.h5", WEIGHTS3, zipfile.ZIP_STORED)])
# A weight changed after the archive was written: the member's CRC no longer
# matches.  It was read (and predicted with) silently.
b = bytearray(open(path("good.keras"), "rb").read())
at = b.index(KERNEL.tobytes())
b[at + 3] ^= 0x40
write("keras-crc.keras", bytes(b))
case("keras-crc", "info keras-crc.keras", "checksum (CRC) is wrong")
# Two config.json members: one was picked silently.
import warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # zipfile: "Duplicate name"
    keras_archive("keras-dup-config.keras",
                  [("metadata.json", META, zipfile.ZIP_DEFLATED),
                   ("config.json", GOOD_CONFIG, zipfile.ZIP_DEFLATED),
                   ("config.json", json.dumps(sequential(GOOD_LAYERS[:2])), zipfile.ZIP_DEFLATED),
                   ("model.weights.h5", WEIGHTS3, zipfile.ZIP_STORED)])
case("keras-dup-config", "info keras-dup-config.keras", "holds config.json twice")
# A zip bomb: 30 MB of config.json (an array of 15 million zeros beside the
# model) in 30 KB of deflate, 1:1000.  json-glib took 1.4 GB and 36 s to
# parse it; refused from the sizes in the central directory (JSON that Keras
# wrote compresses about 10:1), before anything is inflated.
BOMB_N = (30 << 20) // 2
keras_archive("keras-bomb.keras",
              [("metadata.json", META, zipfile.ZIP_DEFLATED),
               ("config.json", GOOD_CONFIG[:-1] + ', "x": [' + "0," * (BOMB_N - 1) + "0]}",
                zipfile.ZIP_DEFLATED),
               ("model.weights.h5", WEIGHTS3, zipfile.ZIP_STORED)])
case("keras-bomb", "info keras-bomb.keras", "zip bomb")
# config.json past the limit for JSON members (32 MiB), in a few KB of bzip2.
keras_archive("keras-big-config.keras",
              [("metadata.json", META, zipfile.ZIP_DEFLATED),
               ("config.json", GOOD_CONFIG[:-1] + " " * (33 << 20) + "}", zipfile.ZIP_BZIP2),
               ("model.weights.h5", WEIGHTS3, zipfile.ZIP_STORED)])
case("keras-big-config", "info keras-big-config.keras",
     "config.json in 'keras-big-config.keras' is larger")
# UpSampling2D(2048) on 8×8×3: 400 million values per example (3.1 GB when
# predicting); refused when the model is opened.
UPSAMPLE = sequential([layer("InputLayer", "x", batch_input_shape=[None, 8, 8, 3],
                             dtype="float32"),
                       layer("UpSampling2D", "up", size=[2048, 2048],
                             interpolation="nearest"),
                       layer("GlobalAveragePooling2D", "gap"),
                       layer("Dense", "d", units=2, activation="softmax", use_bias=True)])
save_h5("config-upsample-huge.h5", UPSAMPLE)
case("config-upsample-huge", "predict config-upsample-huge.h5 IMAGE",
     "million values per example")

# A valid model with an unrelated 2 GiB dataset beside it (declared, its
# chunks never written, so the file is small): it was read into memory
# although nothing uses it.  Loaded by tests/test-special-files.py, which
# checks the peak RSS.
save_h5("h5-junk-dataset.h5", GOOD,
        extra=lambda f: f.create_dataset("junk", shape=(1 << 29,), dtype="f4",
                                         chunks=(1 << 20,)))

# Images: only PNG, JPEG, GIF, BMP, WebP and TIFF, by content.  SVG renders
# through librsvg: filters cost without bound, entities expand ("billion
# laughs").
LAUGHS = ('<?xml version="1.0"?>\n<!DOCTYPE svg [\n<!ENTITY a "hahahahahahahahahaha">\n' +
          "".join('<!ENTITY %s "%s">\n' % (chr(ord("b") + i), ("&%s;" % chr(ord("a") + i)) * 10)
                  for i in range(9)) +
          ']>\n<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
          '<text y="20">&j;</text></svg>\n')
write("img-laughs.svg", LAUGHS)
case("img-svg-laughs", "predict good.h5 img-laughs.svg", "not an image Mirada can read")
FILTER_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="4000" height="4000">'
              '<filter id="f"><feGaussianBlur stdDeviation="500"/>'
              '<feMorphology radius="400"/><feTurbulence baseFrequency="0.9" numOctaves="100"/>'
              '</filter>' + '<rect width="4000" height="4000" filter="url(#f)"/>' * 50 +
              '</svg>\n')
write("img-svg-filter.png", FILTER_SVG)  # the name does not matter, the content does
case("img-svg-filter", "predict good.h5 img-svg-filter.png", "not an image Mirada can read")
# XPM and ICO, which GdkPixbuf also opens.
write("img-xpm.png", '/* XPM */\nstatic char *x[] = {"1 1 1 1", "a c #ff0000", "a"};\n')
case("img-xpm", "predict good.h5 img-xpm.png", "not an image Mirada can read")
# A progressive JPEG with thousands of scans, each a pass over every block
# of the image: a 2048×2048 grey one (PIL, libjpeg), one of its AC scans
# repeated 3000 times (64 KB; 7 s of decoding before the scan limit).
def progressive_jpeg(size):
    import io
    from PIL import Image
    out = io.BytesIO()
    Image.new("L", (size, size), 128).save(out, "JPEG", progressive=True, quality=90)
    return out.getvalue()


def jpeg_scans(data):
    """(start, end) of each SOS segment with its entropy-coded data."""
    i, scans = 2, []
    while i + 4 <= len(data) and data[i + 1] != 0xd9:
        n = struct.unpack(">H", data[i + 2:i + 4])[0]
        if data[i + 1] != 0xda:
            i += 2 + n
            continue
        j = i + 2 + n
        while not (data[j] == 0xff and data[j + 1] != 0 and not 0xd0 <= data[j + 1] <= 0xd7):
            j += 1
        scans.append((i, j))
        i = j
    return scans


jpeg = progressive_jpeg(2048)
scans = jpeg_scans(jpeg)
ac = jpeg[scans[1][0]:scans[1][1]]
write("img-jpeg-scans.jpg", jpeg[:scans[-1][1]] + ac * 3000 + b"\xff\xd9")
case("img-jpeg-scans", "predict good.h5 img-jpeg-scans.jpg", "more than 100 scans")
# A GIF animation of 2000 frames of 1000×1000 (each composited into a full
# canvas by GdkPixbuf).
frame = (b"\x2c" + struct.pack("<HHHHB", 0, 0, 1000, 1000, 0) + b"\x02" +
         b"\x02\x4c\x01\x00")
write("img-gif-frames.gif", b"GIF89a" + struct.pack("<HHBBB", 1000, 1000, 0x80, 0, 0) +
      b"\x00\x00\x00\xff\xff\xff" + frame * 2000 + b"\x3b")
case("img-gif-frames", "predict good.h5 img-gif-frames.gif", "more than 256 frames")

# ONNX: a Gemm whose weight declares 65536 x 65536 floats (16 GiB) and holds
# none: refused by its missing data, before any memory is taken for it (it
# aborted in g_malloc).  Protobuf written by hand, no onnx module needed.
def pb_varint(v):
    out = b""
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb_field(num, wire, payload):
    key = pb_varint((num << 3) | wire)
    if wire == 0:
        return key + pb_varint(payload)
    return key + pb_varint(len(payload)) + payload


def pb_value_info(name, dims):
    shape = b"".join(pb_field(1, 2, pb_field(1, 0, d)) for d in dims)
    tensor_type = pb_field(1, 0, 1) + pb_field(2, 2, shape)
    return pb_field(1, 2, name.encode()) + pb_field(2, 2, pb_field(1, 2, tensor_type))


gemm = (pb_field(1, 2, b"x") + pb_field(1, 2, b"W") + pb_field(2, 2, b"y") +
        pb_field(3, 2, b"gemm") + pb_field(4, 2, b"Gemm"))
weight = pb_field(1, 0, 65536) + pb_field(1, 0, 65536) + pb_field(2, 0, 1) + pb_field(8, 2, b"W")
graph = (pb_field(1, 2, gemm) + pb_field(2, 2, b"g") + pb_field(5, 2, weight) +
         pb_field(11, 2, pb_value_info("x", [1, 65536])) +
         pb_field(12, 2, pb_value_info("y", [1, 65536])))
write("onnx-huge-initializer.onnx", pb_field(1, 0, 7) + pb_field(7, 2, graph) +
      pb_field(8, 2, pb_field(2, 0, 13)))
case("onnx-huge-initializer", "info onnx-huge-initializer.onnx", "does not match its shape")

with open(path("EXPECTED.tsv"), "w") as f:
    f.write("# case\tcommand (run in this folder)\texit\tstderr substring\n")
    for name, command, code, substring in cases:
        f.write("%s\t%s\t%d\t%s\n" % (name, command, code, substring))
print("%d cases in %s" % (len(cases), OUT))
