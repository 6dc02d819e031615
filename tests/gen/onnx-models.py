#!/usr/bin/python3
"""ONNX test models and PyTorch reference outputs for tests/test-formats.c.

    /usr/bin/python3 tests/gen/onnx-models.py tests/data/onnx

Needs Debian's python3-torch (1.13).  Builds three small image classifiers
with random weights (fixed seeds; BatchNormalization running statistics
random too, eval mode), exports each with torch.onnx.export (opset 13) to
OUT/<name>.onnx and writes OUT/<name>.ref.json: the PyTorch output for a
batch of two inputs x[i] = ((i * 37) % 256) / 127.5 - 1 over the flat NHWC
index (Mirada's layout), transposed to NCHW for PyTorch.
"""
import json
import os
import sys

import numpy as np
import torch
from torch import nn


class SmallCNN(nn.Module):
    """Conv+BN+ReLU, MaxPool, strided dilated conv, ReLU6 (Clip), AvgPool,
    Flatten of a 4x4 map into Gemm (the CHW -> HWC row order), Sigmoid,
    Gemm, Softmax."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.c2 = nn.Conv2d(8, 16, 3, stride=2, padding=2, dilation=2)
        self.avg = nn.AvgPool2d(2)
        self.fc1 = nn.Linear(16 * 4 * 4, 24)
        self.fc2 = nn.Linear(24, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn1(self.c1(x))))
        x = nn.functional.relu6(self.c2(x))
        x = torch.flatten(self.avg(x), 1)
        x = torch.sigmoid(self.fc1(x))
        return torch.softmax(self.fc2(x), dim=1)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.a = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.abn = nn.BatchNorm2d(cout)
        self.b = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bbn = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                       nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bbn(self.b(torch.relu(self.abn(self.a(x)))))
        s = x if self.short is None else self.short(x)
        return torch.relu(y + s)


class ResNetLike(nn.Module):
    """7x7/2 stem with BN, 3x3/2 max pool (padded), two residual blocks
    (identity and 1x1/2 projection shortcut: Add), global average pool,
    Flatten, Gemm."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 7, 2, 3, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.l1 = Block(8, 8, 1)
        self.l2 = Block(8, 16, 2)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn(self.stem(x))))
        x = self.l2(self.l1(x))
        x = nn.functional.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


class DepthwiseNet(nn.Module):
    """MobileNetV2-style inverted residual (1x1 expand, depthwise 3x3,
    ReLU6, 1x1 project, Add), a dilated depthwise conv with multiplier 2,
    squeeze-and-excitation (GAP, 1x1 convs, Sigmoid, Mul), Concat,
    global average pool, Flatten, MatMul + Add, Softmax."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, 2, 1)
        self.expand = nn.Conv2d(8, 24, 1, bias=False)
        self.ebn = nn.BatchNorm2d(24)
        self.dw = nn.Conv2d(24, 24, 3, 1, 1, groups=24, bias=False)
        self.dbn = nn.BatchNorm2d(24)
        self.project = nn.Conv2d(24, 8, 1, bias=False)
        self.pbn = nn.BatchNorm2d(8)
        self.dw2 = nn.Conv2d(8, 16, 3, 1, 2, dilation=2, groups=8)
        self.se1 = nn.Conv2d(16, 4, 1)
        self.se2 = nn.Conv2d(4, 16, 1)
        self.w = nn.Parameter(torch.randn(24, 6) * 0.3)
        self.b = nn.Parameter(torch.randn(6) * 0.3)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        y = nn.functional.relu6(self.ebn(self.expand(x)))
        y = nn.functional.relu6(self.dbn(self.dw(y)))
        x = x + self.pbn(self.project(y))
        z = self.dw2(x)
        s = torch.sigmoid(self.se2(torch.relu(self.se1(nn.functional.adaptive_avg_pool2d(z, 1)))))
        z = z * s
        x = torch.cat([x, z], dim=1)
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return torch.softmax(x @ self.w + self.b, dim=1)


def randomize_bn(model, gen):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.5, 0.5, generator=gen)
                m.running_mean.uniform_(-0.5, 0.5, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)


def main(out):
    os.makedirs(out, exist_ok=True)
    for seed, (name, cls, hw) in enumerate([("small_cnn", SmallCNN, 32),
                                            ("resnet_block", ResNetLike, 32),
                                            ("depthwise", DepthwiseNet, 16)]):
        torch.manual_seed(seed + 1)
        gen = torch.Generator().manual_seed(seed + 100)
        model = cls()
        randomize_bn(model, gen)
        model.eval()
        n = 2 * hw * hw * 3
        x = (((np.arange(n) * 37) % 256) / 127.5 - 1).astype(np.float32).reshape(2, hw, hw, 3)
        xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
        with torch.no_grad():
            y = model(xt).double().numpy()
        path = os.path.join(out, name + ".onnx")
        torch.onnx.export(model, xt, path, opset_version=13, input_names=["input"],
                          output_names=["output"], dynamic_axes={"input": {0: "batch"}},
                          do_constant_folding=True,
                          # keep BatchNormalization nodes (EVAL folds them into Conv)
                          training=torch.onnx.TrainingMode.PRESERVE)
        with open(os.path.join(out, name + ".ref.json"), "w") as f:
            json.dump({"reference": "pytorch-" + torch.__version__, "opset": 13,
                       "input": "((i*37)%256)/127.5-1 (NHWC)", "shape": list(y.shape),
                       "output": [float(v) for v in y.ravel()]}, f)
        print(name, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main(sys.argv[1])
