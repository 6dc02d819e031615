#!/usr/bin/python3
"""Issue 20: torchvision's CNN classifiers through Mirada's ONNX loader.

    /usr/bin/python3 tests/gen/torchvision-zoo.py [--mirada build/app/mirada]
        [--opsets 13,17] [--out DIR] [MODEL...]

Run on demand, not in CI (it needs python3-torch and python3-torchvision,
writes several hundred MB of .onnx files to DIR and takes minutes).  For
each of the 17 CNNs below (every torchvision 0.14 classifier family but
ViT): random weights (torch.manual_seed(0)), BatchNorm running statistics
and affine parameters random too, eval(), a final Softmax, exported with
torch.onnx.export at each opset.  Mirada classifies a PNG of the model's
input size with torch preprocessing (`mirada predict --json -k 1000 -p
torch`), PyTorch the same pixels; the table gives whether the model loads,
max |Δp| over the 1000 probabilities (pass: <= 1e-5), whether the top-1
class is the same, and whether `mirada gradcam` gives a finite map.  A model
Mirada refuses shows the first line of its error.  Exit status 1 when any
model fails.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from torch import nn

MODELS = [
    ("alexnet", 224), ("vgg11_bn", 224), ("resnet18", 224), ("resnet50", 224),
    ("wide_resnet50_2", 224), ("resnext50_32x4d", 224), ("densenet121", 224),
    ("squeezenet1_0", 224), ("googlenet", 224), ("inception_v3", 299),
    ("mobilenet_v2", 224), ("mobilenet_v3_small", 224), ("mnasnet0_5", 224),
    ("shufflenet_v2_x0_5", 224), ("regnet_x_400mf", 224), ("efficientnet_b0", 224),
    ("convnext_tiny", 224),
]
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
TOL = 1e-5


def make_model(name):
    torch.manual_seed(0)
    kw = {"weights": None}
    if name in ("googlenet", "inception_v3"):
        kw.update(aux_logits=False, init_weights=True)
    m = getattr(torchvision.models, name)(**kw)
    gen = torch.Generator().manual_seed(100)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            with torch.no_grad():
                mod.weight.uniform_(0.5, 1.5, generator=gen)
                mod.bias.uniform_(-0.5, 0.5, generator=gen)
                mod.running_mean.uniform_(-0.5, 0.5, generator=gen)
                mod.running_var.uniform_(0.5, 1.5, generator=gen)
    return nn.Sequential(m, nn.Softmax(dim=1)).eval()


def make_image(hw, path):
    """A smooth colour pattern with detail (deterministic)."""
    y, x = np.mgrid[0:hw, 0:hw] / hw
    img = np.stack([np.sin(7 * x + 3 * y), np.cos(5 * y - 2 * x), np.sin(11 * x * y)], -1)
    img = ((img + 1) * 127.5 + ((np.arange(hw * hw * 3) * 37) % 23).reshape(hw, hw, 3)) % 256
    img = img.astype(np.uint8)
    Image.fromarray(img).save(path)
    x = (img.astype(np.float32) / 255 - MEAN) / STD
    return torch.from_numpy(x.transpose(2, 0, 1)[None].copy())


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def check(mirada, name, hw, opset, out):
    row = {"model": name, "opset": opset, "loads": False, "dp": None, "top1": None,
           "gradcam": None, "error": ""}
    png = os.path.join(out, "input%d.png" % hw)
    x = make_image(hw, png)
    path = os.path.join(out, "%s-op%d.onnx" % (name, opset))
    model = make_model(name)
    with torch.no_grad():
        p_ref = model(x).double().numpy()[0]
    if not os.path.exists(path):
        torch.onnx.export(model, x, path, opset_version=opset, input_names=["input"],
                          output_names=["prob"], do_constant_folding=True)
    r = run([mirada, "predict", "--json", "-k", "1000", "-p", "torch", path, png])
    if r.returncode != 0:
        row["error"] = (r.stderr.strip().splitlines() or ["?"])[0]
        return row
    row["loads"] = True
    preds = json.loads(r.stdout)["images"][0]["predictions"]
    p = np.zeros(len(p_ref))
    for e in preds:
        p[e["class"]] = e.get("probability", e.get("score"))
    row["dp"] = float(np.abs(p - p_ref).max())
    row["top1"] = int(np.argmax(p)) == int(np.argmax(p_ref))
    npy = os.path.join(out, "%s-op%d-gradcam.npy" % (name, opset))
    r = run([mirada, "gradcam", path, png, "--raw", npy])
    if r.returncode == 0 and os.path.exists(npy):
        cam = np.load(npy)
        row["gradcam"] = bool(np.isfinite(cam).all() and cam.size > 1)
        row["gradcam_layer"] = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    else:
        row["gradcam"] = False
        row["error"] = (r.stderr.strip().splitlines() or ["?"])[0]
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirada", default="build/app/mirada")
    ap.add_argument("--opsets", default="13,17")
    ap.add_argument("--out", default="/tmp/mirada-torchvision-zoo")
    ap.add_argument("--json", help="also write the rows as JSON here")
    ap.add_argument("models", nargs="*")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    sizes = dict(MODELS)
    unknown = [n for n in a.models if n not in sizes]
    if unknown:
        ap.error("unknown model(s) %s; the models are %s" % (unknown, ", ".join(sizes)))
    todo = [(n, sizes[n]) for n in (a.models or sizes)]
    rows = []
    print("| model | opset | loads | max abs dp | top-1 equal | Grad-CAM | note |")
    print("|---|---|---|---|---|---|---|")
    for name, hw in todo:
        for opset in (int(o) for o in a.opsets.split(",")):
            t = time.time()
            row = check(a.mirada, name, hw, opset, a.out)
            rows.append(row)
            dp = "%.2g" % row["dp"] if row["dp"] is not None else "-"
            print("| %s | %d | %s | %s | %s | %s | %s |" % (
                name, opset, "yes" if row["loads"] else "no", dp,
                {None: "-", True: "yes", False: "NO"}[row["top1"]],
                {None: "-", True: "yes", False: "NO"}[row["gradcam"]],
                row["error"] or "%.0f s" % (time.time() - t)), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    bad = [r for r in rows if not (r["loads"] and r["dp"] <= TOL and r["top1"] and r["gradcam"])]
    print("%d of %d pass (loads, max |dp| <= %g, same top-1, Grad-CAM)" %
          (len(rows) - len(bad), len(rows), TOL))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
