#!/usr/bin/python3
"""`mirada explain-unit` end to end (issue 19) on the built-in model: the
receptive field it prints against one worked out by hand, the recomputed
value against the engine's own output, the PNG's size, and clear errors for
a unit outside the map, a malformed --unit and a layer without a recipe.

    test-explain-unit.py MIRADA SRCROOT

The numbers themselves are checked against hand-worked fields and the
engine in tests/test-unit.c; this checks the command.  Prints TAP.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

from tap import check, finish

MIRADA = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
MODEL = os.path.join(SRC, "resources", "default", "model.h5")
SCENE = os.path.join(SRC, "resources", "default", "scene.png")


def run(*args):
    p = subprocess.run([MIRADA, "explain-unit", MODEL, SCENE] + list(args),
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


# conv2d_1 (3×3 "same" on 14×14) after a 2×2 pool after conv2d (3×3 "same"
# on 28×28): unit (3, 4) sees pool rows 2..4 -> conv2d rows 4..9 -> input
# rows 3..10; columns 3..5 -> 6..11 -> 5..12.
rc, out, err = run("--layer", "conv2d_1", "--unit", "3,4,5", "--json")
got = json.loads(out) if rc == 0 else {}
f = got.get("receptive_field", {})
check(rc == 0 and (f.get("y0"), f.get("y1"), f.get("x0"), f.get("x1")) == (3, 11, 5, 13),
      "conv2d_1 unit (3, 4): field rows [3, 11), columns [5, 13) as worked out by hand",
      f"{rc} {out} {err}")
check(got.get("kind") == "conv" and got.get("terms") == 3 * 3 * 32,
      "conv2d_1: a 3x3 patch over 32 channels, 288 terms", out)
check(abs(got.get("value", 1e9) - got.get("engine_value", -1e9))
      <= 1e-5 * max(1.0, abs(got.get("engine_value", 1))),
      "the recomputed value equals the engine's output (1e-5)", out)
check(abs(got.get("pre_activation", 0) - got.get("sum", 0) - got.get("bias", 0)) < 1e-9,
      "pre-activation = sum + bias", out)

# "same" against "valid" (by hand: same = ceil(in / s), valid = floor((in - k) / s) + 1):
# conv2d_1, 3x3 stride 1 "same" on 14x14: same 14x14 with 1+1 zeros, valid 12x12;
# its "same" border, 1 map pixel, reaches 1 conv2d row -> 2 pool rows... -> [-3, 31)
pad = got.get("padding") or {}
check(pad.get("model") == "same" and pad.get("input") == [14, 14]
      and pad.get("same") == [14, 14] and pad.get("valid") == [12, 12]
      and pad.get("output") == [14, 14] and pad.get("same_pads") == [1, 1, 1, 1],
      "conv2d_1 padding: same 14x14 (1+1 zeros), valid 12x12, the model's own 14x14", out)
vu = pad.get("valid_units", {})
check((vu.get("y0"), vu.get("y1"), vu.get("x0"), vu.get("x1")) == (1, 13, 1, 13),
      "conv2d_1: units 1..12 read no padding", out)
sr = pad.get("same_reach", {})
check((sr.get("y0"), sr.get("y1")) == (-3, 31),
      "conv2d_1: the 'same' border reaches input rows -3 and 30 (through pool and conv2d)", out)
rc, out, err = run("--layer", "conv2d_1", "--unit", "3,4,5")
check(rc == 0 and "“valid” → 12×12" in out and "“same” → 14×14" in out,
      "text: the map size under each padding", out)
rc, out, err = run("--layer", "max_pooling2d", "--unit", "0,0,0", "--json")
pad = (json.loads(out) if rc == 0 else {}).get("padding") or {}
check(pad.get("model") == "valid" and pad.get("same") == [14, 14] and pad.get("valid") == [14, 14]
      and pad.get("output") == [14, 14],
      "max_pooling2d 2x2 stride 2 on 28: 14x14 either way", out)
rc, out, err = run("--layer", "flatten", "--unit", "0", "--json")
check(rc == 0 and json.loads(out).get("padding", 0) is None,
      "Flatten slides no window: padding null", out + err)

# a border unit of the first conv: its window reaches the padding
rc, out, err = run("--layer", "conv2d", "--unit", "0,0,2", "--json")
got = json.loads(out) if rc == 0 else {}
p = got.get("window_with_padding", {})
check(rc == 0 and (p.get("y0"), p.get("x0")) == (-1, -1)
      and (got["receptive_field"]["y0"], got["receptive_field"]["x0"]) == (0, 0),
      "conv2d unit (0, 0): window from -1 (padding), field from 0", out)

with tempfile.TemporaryDirectory() as tmp:
    png = os.path.join(tmp, "unit.png")
    rc, out, err = run("--layer", "conv2d_2", "--unit", "0,0,1", "-o", png)
    ok = rc == 0 and os.path.exists(png)
    if ok:
        with open(png, "rb") as fh:
            head = fh.read(24)
        w, h = struct.unpack(">II", head[16:24])
        # 28 px input + 7 px of padding each side, scaled by 512 // 42 = 12
        ok = head[:8] == b"\x89PNG\r\n\x1a\n" and (w, h) == (504, 504)
    check(ok, "--out: a PNG of the input with its padding margin, 504x504", f"{rc} {err}")
    check("padding" in out, "text: says the window reaches the padding", out)
    rc, out, err = run("--layer", "conv2d_1", "--unit", "3,4,5", "--show-padding", "-o", png)
    ok = rc == 0 and os.path.exists(png)
    if ok:
        with open(png, "rb") as fh:
            head = fh.read(24)
        w, h = struct.unpack(">II", head[16:24])
        # the 'same' border reaches 3 px past each side: 34 px, scaled by 512 // 34 = 15
        ok = (w, h) == (510, 510)
    check(ok, "--show-padding: the figure's margin holds the 'same' border, 510x510",
          f"{rc} {err}")

rc, out, err = run("--layer", "conv2d", "--unit", "40,0,0")
check(rc != 0 and "outside" in err, "a unit outside the map: an error naming the shape", err)
rc, out, err = run("--layer", "conv2d", "--unit", "a,b")
check(rc != 0 and "--unit" in err, "a malformed --unit: a usage error", err)
rc, out, err = run("--layer", "flatten", "--unit", "0")
check(rc == 0 and "Conv2D" in out, "a Flatten unit: its field, and why no value", out + err)
finish()
