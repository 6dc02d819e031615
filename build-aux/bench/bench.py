#!/usr/bin/python3
"""Mirada against PyTorch and ONNX Runtime on the same networks and weights.

Each workload is described once (a small graph of Keras layers); from it this
script writes a Keras 2 .h5 for Mirada, builds the same network in PyTorch
(NCHW, TensorFlow padding rules) from the same numpy weights, and exports it
with torch.onnx.export (opset 13) for ONNX Runtime (npm onnxruntime-node, run
by ort-run.js).  Every engine runs in its own process (so its peak RSS is its
own) on the same input; outputs are compared and a table printed.

Run through build-aux/bench-compare.
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


# --------------------------------------------------------------------------
# Network description

def make_divisible(v, divisor=8, min_value=None):
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def tf_pad(n, k, s, same):
    """(out, pad_before, pad_after) along one axis, TensorFlow's rule."""
    if not same:
        return (n - k) // s + 1, 0, 0
    out = (n + s - 1) // s
    total = max((out - 1) * s + k - n, 0)
    return out, total // 2, total - total // 2


class Net:
    def __init__(self, name, shape, seed=0):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.nodes = []          # dicts: cls, name, cfg, inputs, weights, shape
        self.count = {}
        self.input_shape = tuple(shape)
        self.flops = 0           # per sample, multiply-add = 2
        # per layer that does arithmetic (conv, depthwise, dense): the work the
        # row's bound counts (see bound_ms)
        self.costs = []
        self.nodes.append({'cls': 'InputLayer', 'name': 'input_1', 'inputs': [],
                           'cfg': {'batch_input_shape': [None] + list(shape),
                                   'dtype': 'float32', 'sparse': False, 'ragged': False,
                                   'name': 'input_1'},
                           'weights': [], 'shape': tuple(shape)})

    def _name(self, base):
        self.count[base] = self.count.get(base, 0) + 1
        return '%s_%d' % (base, self.count[base])

    def _add(self, cls, base, cfg, inputs, weights, shape):
        name = self._name(base)
        c = {'name': name, 'trainable': True, 'dtype': 'float32'}
        c.update(cfg)
        self.nodes.append({'cls': cls, 'name': name, 'cfg': c, 'inputs': inputs,
                           'weights': weights, 'shape': tuple(shape)})
        return len(self.nodes) - 1

    def shape(self, x):
        return self.nodes[x]['shape']

    def _cost(self, flops, act_bytes, weight_bytes):
        self.costs.append((flops, act_bytes, weight_bytes))

    def bound_ms(self, batch, ceiling_gflops, bandwidth):
        """The time no engine can beat on this machine, in ms: per layer that
        does arithmetic, the larger of its multiplications at the sgemm
        ceiling (3x3 stride-1 convolutions at a quarter, Winograd F(4x4,3x3))
        and its bytes (input and output activations once, weights once) at
        the copy bandwidth measured for a working set of that size
        (@bandwidth: the copy-bench rows).  Batch normalisation, activations,
        pooling, Add and Multiply count nothing: they can be fused."""
        total = 0.0
        for flops, act, wb in self.costs:
            nbytes = act * batch + wb
            bw = bandwidth[-1]['gb_per_second']
            for row in bandwidth:
                if row['working_set'] >= nbytes:
                    bw = row['gb_per_second']
                    break
            total += max(flops * batch / (ceiling_gflops * 1e9), nbytes / (bw * 1e9))
        return total * 1e3

    def _kernel(self, shape, fan_in):
        lim = math.sqrt(3.0 / fan_in)
        return self.rng.uniform(-lim, lim, size=shape).astype(np.float32)

    def _bias(self, n):
        return self.rng.uniform(-0.1, 0.1, size=(n,)).astype(np.float32)

    def conv(self, x, filters, k, s=1, padding='same', act='linear', bias=True):
        h, w, c = self.shape(x)
        oh, _, _ = tf_pad(h, k, s, padding == 'same')
        ow, _, _ = tf_pad(w, k, s, padding == 'same')
        ws = [('kernel', self._kernel((k, k, c, filters), k * k * c))]
        if bias:
            ws.append(('bias', self._bias(filters)))
        self.flops += 2 * oh * ow * filters * k * k * c
        # Winograd F(4x4, 3x3) needs 36 multiplications for 16 outputs where
        # the direct method needs 144: a quarter of the direct FLOPs
        wino = k == 3 and s == 1
        self._cost(2 * oh * ow * filters * k * k * c / (4 if wino else 1),
                   4 * (h * w * c + oh * ow * filters), 4 * k * k * c * filters)
        cfg = {'filters': filters, 'kernel_size': [k, k], 'strides': [s, s],
               'padding': padding, 'data_format': 'channels_last', 'dilation_rate': [1, 1],
               'groups': 1, 'activation': act, 'use_bias': bias}
        return self._add('Conv2D', 'conv2d', cfg, [x], ws, (oh, ow, filters))

    def dwconv(self, x, k, s=1, padding='same', act='linear', bias=True):
        h, w, c = self.shape(x)
        oh, _, _ = tf_pad(h, k, s, padding == 'same')
        ow, _, _ = tf_pad(w, k, s, padding == 'same')
        ws = [('depthwise_kernel', self._kernel((k, k, c, 1), k * k))]
        if bias:
            ws.append(('bias', self._bias(c)))
        self.flops += 2 * oh * ow * c * k * k
        self._cost(2 * oh * ow * c * k * k, 4 * (h * w * c + oh * ow * c), 4 * k * k * c)
        cfg = {'kernel_size': [k, k], 'strides': [s, s], 'padding': padding,
               'data_format': 'channels_last', 'dilation_rate': [1, 1],
               'depth_multiplier': 1, 'activation': act, 'use_bias': bias}
        return self._add('DepthwiseConv2D', 'depthwise_conv2d', cfg, [x], ws, (oh, ow, c))

    def bn(self, x, eps=1e-3):
        c = self.shape(x)[-1]
        r = self.rng
        ws = [('gamma', r.uniform(0.5, 1.5, c).astype(np.float32)),
              ('beta', r.uniform(-0.2, 0.2, c).astype(np.float32)),
              ('moving_mean', r.uniform(-0.2, 0.2, c).astype(np.float32)),
              ('moving_variance', r.uniform(0.5, 1.5, c).astype(np.float32))]
        cfg = {'axis': -1, 'momentum': 0.999, 'epsilon': eps, 'center': True, 'scale': True}
        return self._add('BatchNormalization', 'batch_normalization', cfg, [x], ws,
                         self.shape(x))

    def relu6(self, x):
        cfg = {'max_value': 6.0, 'negative_slope': 0.0, 'threshold': 0.0}
        return self._add('ReLU', 're_lu', cfg, [x], [], self.shape(x))

    def add(self, a, b):
        return self._add('Add', 'add', {}, [a, b], [], self.shape(a))

    def activation(self, x, act):
        return self._add('Activation', 'activation', {'activation': act}, [x], [], self.shape(x))

    def reshape(self, x, shape):
        return self._add('Reshape', 'reshape', {'target_shape': list(shape)}, [x], [], shape)

    def multiply(self, a, b):
        return self._add('Multiply', 'multiply', {}, [a, b], [], self.shape(a))

    def maxpool(self, x, k=2):
        h, w, c = self.shape(x)
        cfg = {'pool_size': [k, k], 'padding': 'valid', 'strides': [k, k],
               'data_format': 'channels_last'}
        return self._add('MaxPooling2D', 'max_pooling2d', cfg, [x], [],
                         (h // k, w // k, c))

    def flatten(self, x):
        h, w, c = self.shape(x)
        return self._add('Flatten', 'flatten', {'data_format': 'channels_last'}, [x], [],
                         (h * w * c,))

    def gap(self, x):
        return self._add('GlobalAveragePooling2D', 'global_average_pooling2d',
                         {'data_format': 'channels_last'}, [x], [], (self.shape(x)[-1],))

    def dense(self, x, units, act='linear'):
        (n,) = self.shape(x)
        ws = [('kernel', self._kernel((n, units), n)), ('bias', self._bias(units))]
        self.flops += 2 * n * units
        self._cost(2 * n * units, 4 * (n + units), 4 * n * units)
        return self._add('Dense', 'dense', {'units': units, 'activation': act,
                                            'use_bias': True}, [x], ws, (units,))

    # -- Keras 2 .h5
    def write_h5(self, path):
        import h5py
        layers = []
        for nd in self.nodes:
            layers.append({'class_name': nd['cls'], 'name': nd['name'], 'config': nd['cfg'],
                           'inbound_nodes': [[[self.nodes[i]['name'], 0, 0, {}]
                                              for i in nd['inputs']]] if nd['inputs'] else []})
        cfg = {'class_name': 'Functional', 'config': {
            'name': self.name, 'layers': layers, 'input_layers': [['input_1', 0, 0]],
            'output_layers': [[self.nodes[-1]['name'], 0, 0]]},
            'keras_version': '2.11.0', 'backend': 'tensorflow'}
        with h5py.File(path, 'w') as f:
            f.attrs['backend'] = 'tensorflow'
            f.attrs['keras_version'] = '2.11.0'
            f.attrs['model_config'] = json.dumps(cfg)
            mw = f.create_group('model_weights')
            mw.attrs['backend'] = 'tensorflow'
            mw.attrs['keras_version'] = '2.11.0'
            mw.attrs['layer_names'] = np.array([nd['name'].encode() for nd in self.nodes])
            for nd in self.nodes:
                g = mw.create_group(nd['name'])
                names = ['%s/%s:0' % (nd['name'], wn) for wn, _ in nd['weights']]
                g.attrs['weight_names'] = (np.array([n.encode() for n in names])
                                           if names else np.asarray([]))
                for n, (_, a) in zip(names, nd['weights']):
                    g.create_dataset(n, data=a)

    # -- PyTorch
    def torch_module(self, logits=False, capture=None):
        """The network in PyTorch.  @logits: no final softmax; @capture: a
        node index whose output is detached and marked as requiring a
        gradient (a forward hook's view of it is module.captured)."""
        import torch
        import torch.nn.functional as F

        net = self

        class M(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.logits = logits
                self.captured = None
                self.params = torch.nn.ParameterDict()
                for nd in net.nodes:
                    for wn, a in nd['weights']:
                        t = torch.from_numpy(np.ascontiguousarray(a))
                        if wn == 'kernel' and nd['cls'] == 'Conv2D':
                            t = t.permute(3, 2, 0, 1)
                        elif wn == 'depthwise_kernel':
                            t = t.permute(2, 3, 0, 1)
                        elif wn == 'kernel' and nd['cls'] == 'Dense':
                            t = t.t()
                        self.params[nd['name'] + '__' + wn] = torch.nn.Parameter(
                            t.contiguous(), requires_grad=False)

            def w(self, nd, wn):
                key = nd['name'] + '__' + wn
                return self.params[key] if key in self.params else None

            def act(self, x, a):
                if a == 'relu':
                    return F.relu(x)
                if a == 'sigmoid':
                    return torch.sigmoid(x)
                if a == 'softmax':
                    return x if self.logits else torch.softmax(x, dim=1)
                if a == 'swish':
                    return F.silu(x)
                assert a == 'linear', a
                return x

            def conv(self, nd, x, groups):
                cfg = nd['cfg']
                k, s = cfg['kernel_size'][0], cfg['strides'][0]
                same = cfg['padding'] == 'same'
                _, pt, pb = tf_pad(x.shape[2], k, s, same)
                _, pl, pr = tf_pad(x.shape[3], k, s, same)
                if pt == pb and pl == pr:
                    pad = (pt, pl)
                else:
                    x = F.pad(x, (pl, pr, pt, pb))
                    pad = 0
                kname = 'kernel' if groups == 1 else 'depthwise_kernel'
                y = F.conv2d(x, self.w(nd, kname), self.w(nd, 'bias'), stride=s,
                             padding=pad, groups=groups)
                return self.act(y, cfg['activation'])

            def forward(self, x):
                vals = [x.permute(0, 3, 1, 2)]
                for nd in net.nodes[1:]:
                    ins = [vals[i] for i in nd['inputs']]
                    x = ins[0]
                    cls = nd['cls']
                    if cls == 'Conv2D':
                        y = self.conv(nd, x, 1)
                    elif cls == 'DepthwiseConv2D':
                        y = self.conv(nd, x, x.shape[1])
                    elif cls == 'BatchNormalization':
                        y = F.batch_norm(x, self.w(nd, 'moving_mean'),
                                         self.w(nd, 'moving_variance'), self.w(nd, 'gamma'),
                                         self.w(nd, 'beta'), False, 0.0, nd['cfg']['epsilon'])
                    elif cls == 'ReLU':
                        y = torch.clamp(x, 0.0, 6.0)
                    elif cls == 'Add':
                        y = ins[0] + ins[1]
                    elif cls == 'MaxPooling2D':
                        y = F.max_pool2d(x, nd['cfg']['pool_size'][0])
                    elif cls == 'Flatten':
                        y = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
                    elif cls == 'GlobalAveragePooling2D':
                        y = x.mean(dim=(2, 3))
                    elif cls == 'Dense':
                        y = self.act(F.linear(x, self.w(nd, 'kernel'), self.w(nd, 'bias')),
                                     nd['cfg']['activation'])
                    elif cls == 'Activation':
                        y = self.act(x, nd['cfg']['activation'])
                    elif cls == 'Reshape':   # (N, C) -> NHWC (1, 1, C) = NCHW (C, 1, 1)
                        y = x.reshape(x.shape[0], -1, 1, 1)
                    elif cls == 'Multiply':
                        y = ins[0] * ins[1]
                    else:
                        raise ValueError(cls)
                    if capture is not None and len(vals) == capture:
                        y = y.detach().requires_grad_()
                        self.captured = y
                    vals.append(y)
                return vals[-1]

        return M().eval()


# --------------------------------------------------------------------------
# Workloads

def vgg16():
    n = Net('vgg16', (224, 224, 3))
    x = 0
    for reps, f in ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)):
        for _ in range(reps):
            x = n.conv(x, f, 3, act='relu')
        x = n.maxpool(x)
    x = n.flatten(x)
    x = n.dense(x, 4096, 'relu')
    x = n.dense(x, 4096, 'relu')
    n.dense(x, 1000, 'softmax')
    return n


def seed_cnn():
    n = Net('cats_dogs', (150, 150, 3))
    x = 0
    for f in (32, 64, 128, 128):
        x = n.conv(x, f, 3, padding='valid', act='relu')
        x = n.maxpool(x)
    x = n.flatten(x)
    x = n.dense(x, 512, 'relu')
    n.dense(x, 1, 'sigmoid')
    return n


def mobilenet_v2(alpha=0.35):
    n = Net('mobilenetv2_%.2f_224' % alpha, (224, 224, 3))
    x = n.conv(0, make_divisible(32 * alpha, 8), 3, 2, bias=False)
    x = n.relu6(n.bn(x))
    blocks = [(16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6),
              (64, 2, 6), (64, 1, 6), (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6),
              (96, 1, 6), (160, 2, 6), (160, 1, 6), (160, 1, 6), (320, 1, 6)]
    for block_id, (filters, stride, expansion) in enumerate(blocks):
        inp = x
        in_c = n.shape(x)[-1]
        pw = make_divisible(int(filters * alpha), 8)
        if block_id:
            x = n.relu6(n.bn(n.conv(x, expansion * in_c, 1, bias=False)))
        x = n.relu6(n.bn(n.dwconv(x, 3, stride, bias=False)))
        x = n.bn(n.conv(x, pw, 1, bias=False))
        if in_c == pw and stride == 1:
            x = n.add(inp, x)
    x = n.relu6(n.bn(n.conv(x, 1280, 1, bias=False)))
    x = n.gap(x)
    n.dense(x, 1000, 'softmax')
    return n


def efficientnet_b0(size=224):
    """Keras' EfficientNetB0 graph (keras.applications, width = depth = 1):
    stem conv 3x3/2 + BN + swish; 16 MBConv blocks (expand 1x1, depthwise
    k x k, squeeze-excite GAP -> Reshape -> 1x1 swish -> 1x1 sigmoid ->
    Multiply, project 1x1 + BN, identity Add); top conv 1x1 1280; GAP; Dense
    1000.  Differences from the Keras model, the same on every engine: no
    Rescaling/Normalization at the input (inputs are already normalised),
    'same' padding instead of ZeroPadding2D + 'valid' for the stride-2
    convolutions (identical pads at 224 and 150), Dropout left out (identity
    at inference).  torchvision's efficientnet_b0 differs (BN eps 1e-5,
    symmetric padding, stochastic depth), so the PyTorch side is this graph."""
    n = Net('efficientnetb0_%d' % size, (size, size, 3), seed=5)
    x = n.activation(n.bn(n.conv(0, 32, 3, 2, bias=False)), 'swish')
    blocks = [(3, 1, 32, 16, 1, 1), (3, 2, 16, 24, 6, 2), (5, 2, 24, 40, 6, 2),
              (3, 3, 40, 80, 6, 2), (5, 3, 80, 112, 6, 1), (5, 4, 112, 192, 6, 2),
              (3, 1, 192, 320, 6, 1)]
    for k, repeats, f_in, f_out, expand, stride in blocks:
        for r in range(repeats):
            if r:
                f_in, stride = f_out, 1
            inp = x
            filters = f_in * expand
            if expand != 1:
                x = n.activation(n.bn(n.conv(x, filters, 1, bias=False)), 'swish')
            x = n.activation(n.bn(n.dwconv(x, k, stride, bias=False)), 'swish')
            se = n.reshape(n.gap(x), (1, 1, filters))
            se = n.conv(se, max(1, int(f_in * 0.25)), 1, act='swish')
            se = n.conv(se, filters, 1, act='sigmoid')
            x = n.multiply(x, se)
            x = n.bn(n.conv(x, f_out, 1, bias=False))
            if stride == 1 and f_in == f_out:
                x = n.add(x, inp)
    x = n.activation(n.bn(n.conv(x, 1280, 1, bias=False)), 'swish')
    x = n.gap(x)
    n.dense(x, 1000, 'softmax')
    return n


def default_model():
    """resources/default/model.h5 (Fashion-MNIST detector, 28x28x1): the same
    graph, its trained weights copied from the file (Dropout left out)."""
    import h5py
    n = Net('mirada_fashion', (28, 28, 1))
    x = n.maxpool(n.conv(0, 32, 3, act='relu'))
    x = n.maxpool(n.conv(x, 64, 3, act='relu'))
    x = n.flatten(n.conv(x, 64, 3, act='relu'))
    x = n.dense(x, 128, 'relu')
    n.dense(x, 11, 'softmax')
    path = os.path.join(HERE, '..', '..', 'resources', 'default', 'model.h5')
    with h5py.File(path, 'r') as f:
        mw = f['model_weights']
        ours = [nd for nd in n.nodes if nd['weights']]
        theirs = ['conv2d', 'conv2d_1', 'conv2d_2', 'dense', 'dense_1']
        for nd, name in zip(ours, theirs):
            g = mw[name]
            arrs = [np.asarray(g[w.decode() if isinstance(w, bytes) else w])
                    for w in g.attrs['weight_names']]
            nd['weights'] = [(wn, a.astype(np.float32)) for (wn, _), a in zip(nd['weights'], arrs)]
    n.h5_path = os.path.abspath(path)
    return n


def vgg16_block3(size=64):
    """VGG16 up to block3_conv1 (conv2d_5 here) at @size px, for filter patterns."""
    n = Net('vgg16_block3', (size, size, 3), seed=3)
    x = 0
    for reps, f in ((2, 64), (2, 128)):
        for _ in range(reps):
            x = n.conv(x, f, 3, act='relu')
        x = n.maxpool(x)
    n.conv(x, 256, 3, act='relu')
    return n


WORKLOADS = {
    'vgg16': vgg16,
    'seed-cnn': seed_cnn,
    'mobilenetv2-0.35': mobilenet_v2,
    'efficientnetb0': efficientnet_b0,
    'efficientnetb0-150': lambda: efficientnet_b0(150),
    'default-model': default_model,
}

# (workload, batch): the default list
# The default model's scene detection: 150 px windows, stride 40 on the 800x400
# demo scene = a 7 x 17 grid.
SCENE_WINDOWS = 7 * 17
DEFAULT_RUNS = [('vgg16', 1), ('vgg16', 8), ('seed-cnn', 1), ('seed-cnn', 112),
                ('efficientnetb0', 1), ('efficientnetb0-150', 112), ('mobilenetv2-0.35', 1),
                ('default-model', SCENE_WINDOWS)]
# Rows that are not one forward pass (run after the forward rows).
TASKS = ['scene-detect', 'gradcam-vgg16', 'filter-vgg16']


# --------------------------------------------------------------------------
# Runners (each in its own process)

def run_measured(argv, env=None):
    """Runs @argv through rss-run; returns (stdout, peak RSS in MiB)."""
    p = subprocess.run([run_measured.launcher, run_measured.out_path, run_measured.err_path]
                       + argv, stdout=subprocess.PIPE, env=env)
    out = open(run_measured.out_path).read()
    if p.returncode != 0:
        err = open(run_measured.err_path).read()
        raise RuntimeError('%s failed:\n%s' % (' '.join(argv), err[-3000:]))
    return out, int(p.stdout) / 1024.0


def torch_child(args):
    """`bench.py torch-run MODEL.pt INPUT.npy OUT THREADS RUNS`: prints JSON."""
    import torch
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    m = torch.jit.load(args.model)
    x = torch.from_numpy(np.load(args.input))
    times = []
    with torch.inference_mode():
        m(x)
        for _ in range(args.runs):
            t0 = time.perf_counter()
            y = m(x)
            times.append(time.perf_counter() - t0)
    y.numpy().astype(np.float32).tofile(args.output)
    print(json.dumps({'median_seconds': float(np.median(times))}))


def timed(f, runs, warmup=True):
    if warmup:
        f()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def last_conv(net):
    return max(i for i, nd in enumerate(net.nodes) if nd['cls'] == 'Conv2D')


def torch_gradcam_child(args):
    """`bench.py torch-gradcam WORKLOAD - - THREADS RUNS`: Grad-CAM as
    build-aux/bench-gradcam does it: a forward hook on the last convolution's
    output (after its ReLU), one backward of the class score before the
    softmax down to it (weights need no gradient, so backward stops there),
    channel weights = spatial means, ReLU of the weighted sum / max."""
    import torch
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    net = WORKLOADS[args.model]()
    m = net.torch_module(logits=True, capture=last_conv(net))
    x = torch.from_numpy(np.random.default_rng(7).uniform(
        0, 1, (1,) + net.input_shape).astype(np.float32))

    def forward():
        with torch.no_grad():
            m(x)

    def gradcam():
        z = m(x)
        z[0, int(z[0].argmax())].backward()
        a, g = m.captured, m.captured.grad
        cam = torch.relu((a * g.mean(dim=(2, 3), keepdim=True)).sum(dim=1))[0]
        return cam / cam.max().clamp_min(1e-12)

    tf = timed(forward, args.runs)
    print(json.dumps({'median_seconds': timed(gradcam, args.runs), 'forward_seconds': tf}))


def torch_filter_child(args):
    """`bench.py torch-filter - - - THREADS RUNS`: one filter pattern as
    Mirada's seed method computes it: x = 128 + 20 U(0,1) pixels, 40 steps
    of x += g / (rms(g) + 1e-5) on the mean activation of filter 0 of
    block3_conv1 (after its ReLU), a last forward for the final loss."""
    import torch
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    net = vgg16_block3(64)
    m = net.torch_module()
    x0 = np.random.default_rng(1).uniform(0, 1, (1,) + net.input_shape) * 20 + 128
    out = {}

    def pattern():
        x = torch.from_numpy(x0.astype(np.float32)).requires_grad_()
        for step in range(41):
            loss = m(x)[0, 0].mean()
            if step == 0:
                out['loss0'] = float(loss)
            if step == 40:
                break
            g, = torch.autograd.grad(loss, x)
            with torch.no_grad():
                x += g / (g.pow(2).mean().sqrt() + 1e-5)
        out['loss1'] = float(loss)

    # seconds per run already: the first of the 40 steps is the warm-up
    t = timed(pattern, args.runs, warmup=False)
    print(json.dumps({'median_seconds': t, 'loss0': out['loss0'], 'loss1': out['loss1']}))


def process_time(argv, env, runs, warmup=True):
    """Median wall time of a whole process (start, load, work) and its peak RSS."""
    ts, rss, out = [], 0, None
    for _ in range(runs + (1 if warmup else 0)):
        t0 = time.perf_counter()
        out, r = run_measured(argv, env)
        ts.append(time.perf_counter() - t0)
        rss = max(rss, r)
    return float(np.median(ts[1:] if warmup else ts)), rss, out


def run_tasks(args, env, engines, work):
    """Rows that are not a single forward pass: Mirada's own commands next to
    the same computation in PyTorch (ONNX Runtime has no backward)."""
    rows = []
    mirada = args.mirada
    top = os.path.normpath(os.path.join(HERE, '..', '..'))
    runs = max(3, args.runs // 2)
    me = [sys.executable, os.path.abspath(__file__)]
    # The default model's detection on the demo scene, end to end.
    t, rss, _ = process_time([mirada, 'detect', os.path.join(top, 'resources', 'default',
                                                             'model.h5'),
                              os.path.join(top, 'resources', 'default', 'scene.png')], env, runs)
    rows.append({'task': 'scene-detect', 'engine': 'mirada', 'ms': t * 1e3, 'rss_mib': rss,
                 'note': 'mirada detect, whole process (load, %d windows, filter); '
                         'peers: default-model %d row' % (SCENE_WINDOWS, SCENE_WINDOWS)})
    # Grad-CAM on VGG16 block5_conv3 (conv2d_13 here).
    vgg = os.path.join(work, 'vgg16.h5')
    if not os.path.exists(vgg):
        vgg16().write_h5(vgg)
    tool = os.path.join(os.path.dirname(os.path.dirname(mirada)), 'tests', 'bench-gradcam')
    o, rss = run_measured([tool, vgg, str(runs)], env)
    m = dict(line.split() for line in o.split('\n') if line)
    rows.append({'task': 'gradcam-vgg16', 'engine': 'mirada', 'ms': float(m['gradcam_ms']),
                 'rss_mib': rss, 'note': 'block5_conv3, forward %.1f ms, ratio %.2f'
                 % (float(m['forward_ms']), float(m['gradcam_ms']) / float(m['forward_ms']))})
    if 'torch' in engines:
        o, rss = run_measured(me + ['torch-gradcam', 'vgg16', '-', '-', str(args.threads),
                                    str(runs)], env)
        r = json.loads(o)
        rows.append({'task': 'gradcam-vgg16', 'engine': 'torch', 'ms': r['median_seconds'] * 1e3,
                     'rss_mib': rss, 'note': 'hook + backward, forward %.1f ms, ratio %.2f'
                     % (r['forward_seconds'] * 1e3, r['median_seconds'] / r['forward_seconds'])})
    # One filter pattern of VGG16 block3_conv1, 40 steps at 64 px: one run each
    # (PyTorch takes tens of seconds on a busy machine); --no-cache, or a
    # previous run's pattern comes from Mirada's pattern cache.
    b3 = os.path.join(work, 'vgg16_block3.h5')
    vgg16_block3(64).write_h5(b3)
    t, rss, o = process_time([mirada, 'filters', b3, '--layer', 'conv2d_5', '--filters', '0',
                              '--steps', '40', '--preprocess', 'none', '--verbose', '--no-cache',
                              '--out', os.path.join(work, 'filter.png')], env, 1, warmup=False)
    loss = re.search(r'([-0-9.e+]+) \S+ ([-0-9.e+]+)', o[o.find('activation'):])
    rows.append({'task': 'filter-vgg16', 'engine': 'mirada', 'ms': t * 1e3, 'rss_mib': rss,
                 'note': 'whole process; loss %s -> %s' % loss.groups() if loss else o[:40]})
    if 'torch' in engines:
        o, rss = run_measured(me + ['torch-filter', '-', '-', '-', str(args.threads), '1'], env)
        r = json.loads(o)
        rows.append({'task': 'filter-vgg16', 'engine': 'torch', 'ms': r['median_seconds'] * 1e3,
                     'rss_mib': rss, 'note': 'loop only; loss %.3g -> %.3g'
                     % (r['loss0'], r['loss1'])})
    return rows


# --------------------------------------------------------------------------

def fmt_size(n):
    return '%d MiB' % (n >> 20) if n >= 1 << 20 else '%d KiB' % (n >> 10)


def sgemm_ceiling(work, threads):
    exe = os.path.join(work, 'sgemm-bench')
    src = os.path.join(HERE, 'sgemm-bench.c')
    subprocess.check_call(['cc', '-O2', '-o', exe, src, '-lopenblas'])
    out, _ = run_measured([exe, '2048', str(threads)])
    if out is None:
        raise RuntimeError('sgemm-bench failed')
    return json.loads(out)['gflops_per_second']


def mirada_gemm_ceiling(work, mirada, threads, env):
    """GFLOP/s of Mirada's own packed GEMM on the same 2048^3 product: a 1x1
    convolution, 2048 -> 2048 channels, over 32 x 64 pixels.  OpenBLAS
    picks its kernels by CPU model, and a CPU newer than its release runs
    an older kernel (Debian 12's 0.3.21 runs its Haswell AVX2 code on AMD
    Zen 5, at a third of what the AVX-512 units do): the ceiling is the
    larger of the two, so no bound is looser than what runs here."""
    n = Net('gemm_2048', (32, 64, 2048))
    n.conv(0, 2048, 1, bias=False)
    h5 = os.path.join(work, 'gemm-2048.h5')
    n.write_h5(h5)
    out, _ = run_measured([mirada, 'bench', h5, '--threads', str(threads), '--runs', '5',
                           '--json'], env)
    return 2.0 * 2048 ** 3 / json.loads(out)['median_seconds'] / 1e9


def copy_bandwidth(work, threads):
    exe = os.path.join(work, 'copy-bench')
    subprocess.check_call(['cc', '-O3', '-march=native', '-pthread', '-o', exe,
                           os.path.join(HERE, 'copy-bench.c'), '-lm'])
    out, _ = run_measured([exe, str(threads)])
    if out is None:
        raise RuntimeError('copy-bench failed')
    return json.loads(out)['rows']


def compare(ref, out):
    ref = ref.reshape(-1).astype(np.float64)
    out = out.reshape(-1).astype(np.float64)
    if ref.shape != out.shape:
        return float('inf')
    return float(np.max(np.abs(ref - out)) / max(np.max(np.abs(ref)), 1e-30))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--mirada', required=True)
    ap.add_argument('--work', required=True)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--runs', type=int, default=5)
    ap.add_argument('--only', action='append', default=[],
                    help='WORKLOAD:BATCH, repeatable (default: the full list)')
    ap.add_argument('--engines', default='mirada,ort,torch')
    ap.add_argument('--results', default=None)
    ap.add_argument('--tasks', action='store_true',
                    help='with --only: also the detection, Grad-CAM and filter rows')
    args = ap.parse_args()

    import torch
    os.makedirs(args.work, exist_ok=True)
    run_measured.out_path = os.path.join(args.work, 'child.out')
    run_measured.err_path = os.path.join(args.work, 'child.err')
    engines = args.engines.split(',')
    runs = DEFAULT_RUNS
    if args.only:
        runs = [(o.split(':')[0], int(o.split(':')[1])) for o in args.only]

    env = dict(os.environ)
    env['OPENBLAS_NUM_THREADS'] = str(args.threads)
    env['OMP_NUM_THREADS'] = str(args.threads)
    # tests/bench-gradcam is not next to the HDF5 reader helper: point at it
    env.setdefault('MIRADA_H5_READER', os.path.join(os.path.dirname(os.path.abspath(args.mirada)),
                                                    'mirada-h5-reader'))

    t_start = time.time()
    run_measured.launcher = os.path.join(args.work, 'rss-run')
    subprocess.check_call(['cc', '-O2', '-o', run_measured.launcher,
                           os.path.join(HERE, 'rss-run.c')])
    blas = sgemm_ceiling(args.work, args.threads)
    own = mirada_gemm_ceiling(args.work, args.mirada, args.threads, env)
    ceiling = max(blas, own)
    print('sgemm 2048^3, %d threads: OpenBLAS %.1f GFLOP/s, Mirada\'s packed GEMM %.1f GFLOP/s'
          % (args.threads, blas, own), flush=True)
    bandwidth = copy_bandwidth(args.work, args.threads)
    print('memory bandwidth, %d threads: %s' % (args.threads, ', '.join(
        '%s %.0f GB/s' % (fmt_size(r['working_set']), r['gb_per_second']) for r in bandwidth)),
        flush=True)

    built = {}
    rows = []
    for wl, batch in runs:
        net = built.get(wl)
        base = os.path.join(args.work, wl)
        if net is None:
            net = WORKLOADS[wl]()
            built[wl] = net
            net.write_h5(base + '.h5')
            mod = net.torch_module()
            ex = torch.zeros((1,) + net.input_shape)
            with torch.no_grad():
                traced = torch.jit.trace(mod, ex)
            traced.save(base + '.pt')
            with torch.no_grad():
                torch.onnx.export(mod, ex, base + '.onnx', opset_version=13,
                                  input_names=['input'], output_names=['output'],
                                  dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}})
        rng = np.random.default_rng(42)
        x = rng.uniform(0, 1, size=(batch,) + net.input_shape).astype(np.float32)
        xin = '%s-b%d' % (base, batch)
        x.tofile(xin + '.raw')
        np.save(xin + '.npy', x)
        gflop = net.flops * batch / 1e9
        res = {'workload': wl, 'batch': batch, 'gflop': gflop,
               'bound_ms': net.bound_ms(batch, ceiling, bandwidth)}
        h5 = getattr(net, 'h5_path', None) or base + '.h5'
        # the heavy rows (VGG16 x 8, 112 windows) fewer times: the harness stays < 5 min;
        # millisecond rows 5x as often: one slow run (the machine settling after the
        # previous engine's gigabyte process) must not be the median
        nruns = args.runs if gflop < 40 else max(3, args.runs // 2)
        if gflop < 2:
            nruns = args.runs * 5
        outs = {}
        for eng in engines:
            outp = '%s-%s.out' % (xin, eng)
            if eng == 'mirada':
                o, rss = run_measured([args.mirada, 'bench', h5, '--batch', str(batch),
                                       '--threads', str(args.threads), '--runs', str(nruns),
                                       '--json', '--input', xin + '.raw',
                                       '--save-output', outp], env)
            elif eng == 'ort':
                o, rss = run_measured(['node', os.path.join(HERE, 'ort-run.js'), base + '.onnx',
                                       xin + '.raw', ','.join(str(d) for d in x.shape), outp,
                                       str(args.threads), str(nruns)], env)
            else:
                o, rss = run_measured([sys.executable, os.path.abspath(__file__), 'torch-run',
                                       base + '.pt', xin + '.npy', outp, str(args.threads),
                                       str(nruns)], env)
            t = json.loads(o)['median_seconds']
            outs[eng] = np.fromfile(outp, dtype=np.float32)
            res[eng] = {'ms': t * 1e3, 'gflops': gflop / t, 'rss_mib': rss}
            print('  %-18s b%-4d %-7s %9.2f ms %7.1f GFLOP/s %7.0f MiB  %3.0f%% of bound' %
                  (wl, batch, eng, t * 1e3, gflop / t, rss, 100 * res['bound_ms'] / (t * 1e3)),
                  flush=True)
        ref = outs.get('torch')
        for eng in engines:
            if ref is not None and eng != 'torch':
                res[eng]['max_rel_diff_vs_torch'] = compare(ref, outs[eng])
        rows.append(res)

    tasks = []
    if not args.only or args.tasks:
        tasks = run_tasks(args, env, engines, args.work)
        for t in tasks:
            print('  %-18s %-7s %9.2f ms %7.0f MiB  %s' % (t['task'], t['engine'], t['ms'],
                                                         t['rss_mib'], t['note']), flush=True)

    lines = []
    lines.append('Mirada vs ONNX Runtime (onnxruntime-node) and PyTorch %s, %d threads, '
                 'median of %d runs after a warm-up (%d below 2 GFLOP, %d above 40)'
                 % (torch.__version__, args.threads, args.runs, args.runs * 5,
                    max(3, args.runs // 2)))
    lines.append('sgemm 2048^3 ceiling: %.1f GFLOP/s, the larger of OpenBLAS (%.1f) and '
                 'Mirada\'s packed GEMM (%.1f)' % (ceiling, blas, own))
    lines.append('memory bandwidth (the larger of memcpy and a read-only sum): %s' % ', '.join(
        '%s %.0f GB/s' % (fmt_size(r['working_set']), r['gb_per_second']) for r in bandwidth))
    lines.append('bound: per conv/dense layer, max(multiplications at the sgemm ceiling, 3x3 '
                 'stride-1 at 1/4 (Winograd F(4x4,3x3)); bytes at the memory bandwidth of their working set); '
                 '%bound = bound / median')
    hdr = '%-18s %5s %7s %8s | %-8s %9s %8s %6s %6s %8s %9s' % (
        'workload', 'batch', 'GFLOP', 'bound ms', 'engine', 'median ms', 'GFLOP/s', '%ceil',
        '%bound', 'Mir/peer', 'peak MiB')
    lines.append(hdr)
    lines.append('-' * len(hdr))
    for r in rows:
        mir = r.get('mirada')
        for eng in engines:
            e = r[eng]
            ratio = ''
            if mir is not None and eng != 'mirada':
                ratio = '%.2f' % (mir['ms'] / e['ms'])
            lines.append('%-18s %5d %7.2f %8.2f | %-8s %9.2f %8.1f %5.0f%% %5.0f%% %8s %9.0f' % (
                r['workload'], r['batch'], r['gflop'], r['bound_ms'], eng, e['ms'], e['gflops'],
                100 * e['gflops'] / ceiling, 100 * r['bound_ms'] / e['ms'], ratio,
                e['rss_mib']))
        diffs = ['%s %.1e' % (eng, r[eng]['max_rel_diff_vs_torch']) for eng in engines
                 if 'max_rel_diff_vs_torch' in r[eng]]
        if diffs:
            lines.append('%-32s   output max |diff| / max |ref| vs torch: %s' % (
                '', ', '.join(diffs)))
    if tasks:
        lines.append('')
        lines.append('%-18s %-8s %9s %9s %8s  %s' % ('task', 'engine', 'median ms', 'peak MiB',
                                                    'Mir/peer', 'what'))
        lines.append('-' * len(hdr))
        for t in tasks:
            mir = [u for u in tasks if u['task'] == t['task'] and u['engine'] == 'mirada']
            ratio = '%.2f' % (mir[0]['ms'] / t['ms']) if mir and t['engine'] != 'mirada' else ''
            lines.append('%-18s %-8s %9.2f %9.0f %8s  %s' % (t['task'], t['engine'], t['ms'],
                                                            t['rss_mib'], ratio, t['note']))
    lines.append('(total wall time %.0f s)' % (time.time() - t_start))
    text = '\n'.join(lines)
    print('\n' + text)
    if args.results:
        with open(args.results, 'w') as f:
            f.write(text + '\n')
        with open(os.path.splitext(args.results)[0] + '.json', 'w') as f:
            json.dump({'ceiling_gflops': ceiling, 'openblas_gflops': blas,
                       'mirada_gemm_gflops': own, 'copy_bandwidth': bandwidth, 'rows': rows, 'tasks': tasks}, f, indent=1)
    bad = [r for r in rows for eng in engines
           if r[eng].get('max_rel_diff_vs_torch', 0) > 1e-3]
    if bad:
        print('bench-compare: outputs differ by more than 1e-3 (relative to the largest)')
        return 1
    return 0


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] in ('torch-run', 'torch-gradcam', 'torch-filter'):
        p = argparse.ArgumentParser()
        p.add_argument('cmd')
        p.add_argument('model')
        p.add_argument('input')
        p.add_argument('output')
        p.add_argument('threads', type=int)
        p.add_argument('runs', type=int)
        a = p.parse_args()
        {'torch-run': torch_child, 'torch-gradcam': torch_gradcam_child,
         'torch-filter': torch_filter_child}[a.cmd](a)
        sys.exit(0)
    sys.exit(main())
