#!/usr/bin/python3
"""ONNX test models and PyTorch reference outputs for tests/test-formats.c.

    /usr/bin/python3 tests/gen/onnx-models.py tests/data/onnx

Needs Debian's python3-torch (1.13).  Builds small image classifiers
with random weights (fixed seeds; BatchNormalization running statistics
random too, eval mode), exports each with torch.onnx.export (opset 13 or 17) to
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


class PoolModes(nn.Module):
    """Pooling with explicit pads as ONNX has them (issue 20): a 5x5/1 average
    with pads 2 and count_include_pad=1 (the pads are Keras' "same" pads, but
    the padding counts in the divisor), ceil_mode averages with and without
    the padding counted, ceil_mode max pools (SqueezeNet, GoogLeNet) on a
    signed input.  Each map is flattened (C, H, W order) and concatenated:
    flattened maps larger than 1x1 reach the output.  torch.onnx.export
    writes an explicit Pad before these average pools, so the graph is
    written by hand (pool_modes_onnx) with the pads on the pooling nodes, as
    other exporters do; this module gives the reference."""

    def __init__(self):
        super().__init__()
        self.a = nn.AvgPool2d(5, 1, 2, count_include_pad=True)
        self.b = nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=True)
        self.c = nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)
        self.d = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.e = nn.MaxPool2d(3, 2, 1, ceil_mode=True)
        self.f = nn.AvgPool2d(2, 2, ceil_mode=True)

    def forward(self, x):
        return torch.cat([torch.flatten(m(x), 1)
                          for m in (self.a, self.b, self.c, self.d, self.e, self.f)], 1)


def pool_modes_onnx(model, hw, path):
    import onnx
    from onnx import TensorProto, helper

    nodes, outs = [], []
    specs = [("AveragePool", dict(kernel_shape=[5, 5], strides=[1, 1], pads=[2, 2, 2, 2],
                                  count_include_pad=1)),
             ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                                  ceil_mode=1, count_include_pad=1)),
             ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                                  ceil_mode=1, count_include_pad=0)),
             ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
             ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                              ceil_mode=1)),
             ("AveragePool", dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1))]
    for i, (op, attrs) in enumerate(specs):
        nodes.append(helper.make_node(op, ["input"], ["p%d" % i], name="pool%d" % i, **attrs))
        nodes.append(helper.make_node("Flatten", ["p%d" % i], ["f%d" % i], name="flat%d" % i))
        outs.append("f%d" % i)
    nodes.append(helper.make_node("Concat", outs, ["output"], name="concat", axis=1))
    graph = helper.make_graph(
        nodes, "pool_modes",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, hw, hw])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", None])])
    m = helper.make_model(graph, producer_name="mirada-tests",
                          opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(m)
    onnx.save(m, path)


class FlattenOut(nn.Module):
    """A convolution whose 5x5 map is flattened straight into the output:
    the values must leave in ONNX's C, H, W order (issue 20)."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return torch.flatten(torch.relu(self.c(x)), 1)


class HardOps(nn.Module):
    """MobileNetV3's pieces: Hardswish, a squeeze-and-excitation with
    Hardsigmoid (the mean over H, W as ReduceMean keepdims=1), then a
    ReduceMean keepdims=0 head (MNASNet) into Linear."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, 2, 1)
        self.bn = nn.BatchNorm2d(8)
        self.se1 = nn.Conv2d(8, 4, 1)
        self.se2 = nn.Conv2d(4, 8, 1)
        self.c2 = nn.Conv2d(8, 12, 3, 1, 1)
        self.fc = nn.Linear(12, 5)

    def forward(self, x):
        x = nn.functional.hardswish(self.bn(self.c1(x)))
        s = x.mean((2, 3), keepdim=True)
        s = nn.functional.hardsigmoid(self.se2(torch.relu(self.se1(s))))
        x = nn.functional.hardswish(self.c2(x * s))
        return self.fc(x.mean([2, 3]))


class Grouped(nn.Module):
    """Grouped convolutions (ResNeXt, RegNet): 3x3/2 group 4, 1x1 group 2,
    a depthwise conv with multiplier 2 (group = channels), a dilated 3x3
    group 8, global average pool, Linear."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, 1, 1)
        self.g1 = nn.Conv2d(8, 16, 3, 2, 1, groups=4, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.g2 = nn.Conv2d(16, 16, 1, groups=2)
        self.dw = nn.Conv2d(16, 32, 3, 1, 1, groups=16)
        self.g3 = nn.Conv2d(32, 24, 3, 1, 2, dilation=2, groups=8)
        self.fc = nn.Linear(24, 6)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        x = torch.relu(self.bn(self.g1(x)))
        x = torch.relu(self.g2(x))
        x = self.g3(torch.relu(self.dw(x)))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class Shuffle(nn.Module):
    """ShuffleNet v2's channel shuffle (Reshape to 5-D, Transpose, Reshape
    back), a Transpose to N, H, W, C flattened into Linear.  Exported with a
    fixed batch of 1 (torch writes the reshape targets as constants)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, 1, 1)
        self.c2 = nn.Conv2d(8, 6, 3, 2, 1, groups=2)
        self.fc = nn.Linear(6 * 4 * 4, 5)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        b, c, h, w = x.shape
        x = x.view(b, 2, c // 2, h, w).transpose(1, 2).contiguous().view(b, -1, h, w)
        x = self.c2(x)
        return self.fc(torch.flatten(x.permute(0, 2, 3, 1), 1))


class LayerNorm2d(nn.LayerNorm):
    """torchvision's ConvNeXt LayerNorm2d: a permute to N, H, W, C around it."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class ConvNeXtLike(nn.Module):
    """ConvNeXt's pieces (issue 20): a 2x2/2 stem with LayerNorm2d, one block
    (depthwise 7x7, Permute to N, H, W, C, LayerNorm, Linear 4x on the channel
    axis (MatMul + Add), GELU, Linear, Permute back, per-channel layer scale
    Mul, residual Add), global average pool, LayerNorm2d on the 1x1 map,
    Flatten, Linear.  torch 1.13 writes GELU as Div/Erf/Add/Mul/Mul and, before
    opset 17, LayerNorm as ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add;
    at opset 17 as LayerNormalization."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 2, 2)
        self.ln0 = LayerNorm2d(8, eps=1e-6)
        self.dw = nn.Conv2d(8, 8, 7, padding=3, groups=8)
        self.ln = nn.LayerNorm(8, eps=1e-6)
        self.fc1 = nn.Linear(8, 32)
        self.fc2 = nn.Linear(32, 8)
        self.scale = nn.Parameter(torch.rand(8, 1, 1) + 0.5)
        self.ln1 = LayerNorm2d(8, eps=1e-6)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.ln0(self.stem(x))
        y = self.dw(x).permute(0, 2, 3, 1)
        y = self.fc2(nn.functional.gelu(self.fc1(self.ln(y))))
        x = x + self.scale * y.permute(0, 3, 1, 2)
        x = self.ln1(nn.functional.adaptive_avg_pool2d(x, 1))
        return torch.softmax(self.fc(torch.flatten(x, 1)), dim=1)


class ChannelSplit(nn.Module):
    """ShuffleNet v2's unit as torchvision writes it (issue 20): x.chunk(2,
    dim=1) (torch writes Shape -> Gather -> Add -> Div -> Mul into Slice
    bounds: folded while loading), a branch on one half, Concat, channel
    shuffle; then torch.split into unequal parts (Split), elementwise Sub and
    Div by constants, a Slice along the height, Sub of two maps.  Exported
    with a batch of 1."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, 1, 1)
        self.c2 = nn.Conv2d(4, 4, 3, 1, 1)
        self.c3 = nn.Conv2d(8, 6, 3, 2, 1)
        self.fc = nn.Linear(6, 5)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        a, b = x.chunk(2, dim=1)
        x = torch.cat([a, torch.relu(self.c2(b))], 1)
        n, c, h, w = x.shape
        x = x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, -1, h, w)
        p, q = torch.split(x, [3, 5], dim=1)
        x = torch.cat([q - 0.25, p / 2.0], 1)
        x = x[:, :, 1:7, :] - x[:, :, 0:6, :] * 0.5
        x = torch.relu(self.c3(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def old_softmax_onnx(path):
    """Softmax over axis 1 of an N, C, H, W map at opset 11: ONNX then means
    over C, H and W together; Mirada must refuse it by name."""
    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph(
        [helper.make_node("Softmax", ["input"], ["output"], name="sm", axis=1)], "old_softmax",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 4, 4])])
    m = helper.make_model(g, producer_name="mirada-tests",
                          opset_imports=[helper.make_opsetid("", 11)])
    onnx.checker.check_model(m)
    onnx.save(m, path)


def randomize_bn(model, gen):
    for m in model.modules():
        if isinstance(m, nn.LayerNorm):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.5, 0.5, generator=gen)
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.5, 0.5, generator=gen)
                m.running_mean.uniform_(-0.5, 0.5, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)


def main(out):
    os.makedirs(out, exist_ok=True)
    old_softmax_onnx(os.path.join(out, "old_softmax11.onnx"))
    for seed, (name, cls, hw, opset) in enumerate([("small_cnn", SmallCNN, 32, 13),
                                                   ("resnet_block", ResNetLike, 32, 13),
                                                   ("depthwise", DepthwiseNet, 16, 13),
                                                   ("pool_modes", PoolModes, 11, 13),
                                                   ("flatten_out", FlattenOut, 7, 13),
                                                   ("hard_ops13", HardOps, 12, 13),
                                                   ("hard_ops17", HardOps, 12, 17),
                                                   ("grouped", Grouped, 12, 13),
                                                   ("shuffle", Shuffle, 8, 13),
                                                   ("convnext13", ConvNeXtLike, 12, 13),
                                                   ("convnext17", ConvNeXtLike, 12, 17),
                                                   ("channel_split13", ChannelSplit, 8, 13),
                                                   ("channel_split17", ChannelSplit, 8, 17)]):
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
        if name == "pool_modes":
            pool_modes_onnx(model, hw, path)
        elif name == "shuffle" or name.startswith("channel_split"):
            torch.onnx.export(model, xt[:1], path, opset_version=opset, input_names=["input"],
                              output_names=["output"], do_constant_folding=True)
        else:
            torch.onnx.export(model, xt, path, opset_version=opset, input_names=["input"],
                              output_names=["output"], dynamic_axes={"input": {0: "batch"}},
                              do_constant_folding=True,
                              # keep BatchNormalization nodes (EVAL folds them into Conv)
                              training=torch.onnx.TrainingMode.PRESERVE)
        with open(os.path.join(out, name + ".ref.json"), "w") as f:
            json.dump({"reference": "pytorch-" + torch.__version__, "opset": opset,
                       "input": "((i*37)%256)/127.5-1 (NHWC)", "shape": list(y.shape),
                       "output": [float(v) for v in y.ravel()]}, f)
        print(name, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main(sys.argv[1])
