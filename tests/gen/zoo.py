#!/usr/bin/python3
"""Mirada reference generator, Python side (see README.md).

  zoo.py models WORK      write the model zoo (tests/data/ref/<model>.h5) and
                          the fixture inputs, plus WORK/<model>.json/.bin for
                          run-tfjs.js (TF.js models) or numpy references
  zoo.py refs WORK        turn WORK/<model>.out.json/.bin (TF.js outputs) and
                          the numpy references into tests/data/ref/*.ref.h5

Weights and inputs come from numpy with fixed seeds.  Models whose layers
TF.js cannot express are computed here in numpy instead (reference="numpy").
"""

import json
import math
import os
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, '..', '..'))
REF_DIR = os.path.join(TOP, 'tests', 'data', 'ref')
MODELS_DIR = os.path.join(TOP, 'tests', 'data', 'models')
SHARED_DIR = os.environ.get('MIRADA_SHARED_DIR', os.path.join(TOP, '..', 'shared'))
KERAS_VERSION = '2.13.1'
BATCH = 2
# Outputs with more elements than this are stored as a strided sample (fixtures).
FULL_LIMIT = 2048
SAMPLES = 1024

# --------------------------------------------------------------------------
# Keras 2 config builder with a small shape inference for weight shapes


def conv_out(n, k, s, d, padding):
    ke = (k - 1) * d + 1
    if padding == 'same':
        return (n + s - 1) // s
    return (n - ke) // s + 1


def pair(v):
    return list(v) if isinstance(v, (list, tuple)) else [v, v]


class Builder:
    """Builds a Keras 2 Functional (or Sequential) config and its weights."""

    def __init__(self, name, seed):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.layers = []        # config entries, in order
        self.by_name = {}       # name -> entry
        self.weights = {}       # layer name -> [(weight name, array)]
        self.shapes = {}        # (layer, node) -> shape (without batch)
        self.inputs = []
        self.outputs = []

    # -- weights
    def uniform(self, shape, lo, hi):
        return self.rng.uniform(lo, hi, size=shape).astype(np.float32)

    def kernel(self, shape, fan_in, gain=1.0):
        lim = gain * math.sqrt(3.0 / max(fan_in, 1))
        return self.uniform(shape, -lim, lim)

    # -- graph
    def input(self, name, shape):
        entry = {'class_name': 'InputLayer', 'config': {
            'batch_input_shape': [None] + list(shape), 'dtype': 'float32',
            'sparse': False, 'ragged': False, 'name': name},
            'name': name, 'inbound_nodes': []}
        self.layers.append(entry)
        self.by_name[name] = entry
        self.shapes[(name, 0)] = tuple(shape)
        self.inputs.append([name, 0, 0])
        return (name, 0)

    def __call__(self, class_name, name, cfg, inputs, **wopts):
        if isinstance(inputs, tuple):
            inputs = [inputs]
        in_shapes = [self.shapes[i] for i in inputs]
        if name in self.by_name:   # shared layer: another call
            entry = self.by_name[name]
            node = len(entry['inbound_nodes'])
        else:
            config = {'name': name, 'trainable': True, 'dtype': 'float32'}
            config.update(cfg)
            entry = {'class_name': class_name, 'config': config, 'name': name,
                     'inbound_nodes': []}
            self.layers.append(entry)
            self.by_name[name] = entry
            node = 0
            w = make_weights(self, class_name, config, in_shapes, **wopts)
            self.weights[name] = w
        entry['inbound_nodes'].append([[i[0], i[1], 0, {}] for i in inputs])
        self.shapes[(name, node)] = out_shape(class_name, entry['config'], in_shapes)
        return (name, node)

    def nested(self, sub, inputs):
        """Calls the nested model @sub (a Builder) on @inputs."""
        if isinstance(inputs, tuple):
            inputs = [inputs]
        entry = sub.model_config()
        entry['name'] = sub.name
        entry['inbound_nodes'] = [[[i[0], i[1], 0, {}] for i in inputs]]
        self.layers.append(entry)
        self.by_name[sub.name] = entry
        self.weights[sub.name] = sub.all_weights()
        self.shapes[(sub.name, 0)] = sub.output_shape()
        return (sub.name, 0)

    def output(self, *refs):
        for r in refs:
            self.outputs.append([r[0], r[1], 0])

    def output_shape(self):
        return self.shapes[tuple(self.outputs[0][:2])]

    def all_weights(self):
        """[(path, array)] with paths "<inner layer>/<weight>" (nested models)."""
        out = []
        for entry in self.layers:
            w = self.weights.get(entry['name'], [])
            if entry['class_name'] in ('Sequential', 'Functional'):
                out += w
            else:
                out += [(entry['name'] + '/' + wn, a) for wn, a in w]
        return out

    def model_config(self, sequential=False):
        if sequential:
            layers = []
            for e in self.layers:
                layers.append({'class_name': e['class_name'], 'config': e['config']})
            return {'class_name': 'Sequential', 'config': {'name': self.name, 'layers': layers}}
        return {'class_name': 'Functional', 'config': {
            'name': self.name, 'layers': self.layers, 'input_layers': self.inputs,
            'output_layers': self.outputs}}


def make_weights(b, cls, c, in_shapes, gain=1.0):
    s = in_shapes[0]
    cin = s[-1]
    if cls == 'Conv2D':
        k = pair(c['kernel_size'])
        g = c.get('groups', 1)
        w = [('kernel:0', b.kernel(k + [cin // g, c['filters']], k[0] * k[1] * cin // g, gain))]
        if c.get('use_bias', True):
            w.append(('bias:0', b.uniform([c['filters']], -0.5, 0.5)))
        return w
    if cls == 'DepthwiseConv2D':
        k = pair(c['kernel_size'])
        m = c.get('depth_multiplier', 1)
        w = [('depthwise_kernel:0', b.kernel(k + [cin, m], k[0] * k[1], gain))]
        if c.get('use_bias', True):
            w.append(('bias:0', b.uniform([cin * m], -0.5, 0.5)))
        return w
    if cls == 'SeparableConv2D':
        k = pair(c['kernel_size'])
        m = c.get('depth_multiplier', 1)
        w = [('depthwise_kernel:0', b.kernel(k + [cin, m], k[0] * k[1], gain)),
             ('pointwise_kernel:0', b.kernel([1, 1, cin * m, c['filters']], cin * m, gain))]
        if c.get('use_bias', True):
            w.append(('bias:0', b.uniform([c['filters']], -0.5, 0.5)))
        return w
    if cls == 'Dense':
        w = [('kernel:0', b.kernel([cin, c['units']], cin, gain))]
        if c.get('use_bias', True):
            w.append(('bias:0', b.uniform([c['units']], -0.5, 0.5)))
        return w
    if cls == 'BatchNormalization':
        w = []
        if c.get('scale', True):
            w.append(('gamma:0', b.uniform([cin], 0.5, 1.5)))
        if c.get('center', True):
            w.append(('beta:0', b.uniform([cin], -0.5, 0.5)))
        w.append(('moving_mean:0', b.uniform([cin], -0.5, 0.5)))
        w.append(('moving_variance:0', b.uniform([cin], 0.5, 1.5)))
        return w
    if cls == 'LayerNormalization':
        w = []
        if c.get('scale', True):
            w.append(('gamma:0', b.uniform([cin], 0.5, 1.5)))
        if c.get('center', True):
            w.append(('beta:0', b.uniform([cin], -0.5, 0.5)))
        return w
    if cls == 'Normalization' and c.get('mean') is None:
        return [('mean:0', b.uniform([cin], -0.5, 0.5)),
                ('variance:0', b.uniform([cin], 0.25, 2.0)),
                ('count:0', np.array(100, dtype=np.int64))]
    return []


def out_shape(cls, c, ins):
    s = ins[0]
    if cls in ('Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'MaxPooling2D',
               'AveragePooling2D'):
        if cls in ('MaxPooling2D', 'AveragePooling2D'):
            k = pair(c['pool_size'])
            st = pair(c.get('strides') or c['pool_size'])
            d = [1, 1]
        else:
            k = pair(c['kernel_size'])
            st = pair(c.get('strides', 1))
            d = pair(c.get('dilation_rate', 1))
        h = conv_out(s[0], k[0], st[0], d[0], c.get('padding', 'valid'))
        w = conv_out(s[1], k[1], st[1], d[1], c.get('padding', 'valid'))
        if cls == 'Conv2D' or cls == 'SeparableConv2D':
            ch = c['filters']
        elif cls == 'DepthwiseConv2D':
            ch = s[2] * c.get('depth_multiplier', 1)
        else:
            ch = s[2]
        return (h, w, ch)
    if cls == 'Dense':
        return tuple(s[:-1]) + (c['units'],)
    if cls in ('GlobalAveragePooling2D', 'GlobalMaxPooling2D'):
        return (1, 1, s[2]) if c.get('keepdims') else (s[2],)
    if cls == 'Flatten':
        return (int(np.prod(s)),)
    if cls == 'Reshape':
        t = list(c['target_shape'])
        if -1 in t:
            t[t.index(-1)] = int(np.prod(s)) // -int(np.prod(t))
        return tuple(t)
    if cls == 'Concatenate':
        ax = c.get('axis', -1)
        ax = ax % (len(s) + 1) - 1
        o = list(s)
        o[ax] = sum(i[ax] for i in ins)
        return tuple(o)
    if cls == 'ZeroPadding2D':
        p = c['padding']
        return (s[0] + p[0][0] + p[0][1], s[1] + p[1][0] + p[1][1], s[2])
    if cls == 'Cropping2D':
        p = c['cropping']
        return (s[0] - p[0][0] - p[0][1], s[1] - p[1][0] - p[1][1], s[2])
    if cls == 'UpSampling2D':
        z = pair(c['size'])
        return (s[0] * z[0], s[1] * z[1], s[2])
    if cls == 'Permute':
        return tuple(s[d - 1] for d in c['dims'])
    if cls in ('Resizing', 'CenterCrop'):
        return (c['height'], c['width'], s[2])
    return tuple(s)


# --------------------------------------------------------------------------
# The zoo

def act_cfg(a):
    return {'activation': a}


def conv_cfg(filters, k, strides=1, padding='valid', dilation=1, activation='linear',
             use_bias=True, groups=1):
    return {'filters': filters, 'kernel_size': pair(k), 'strides': pair(strides),
            'padding': padding, 'data_format': 'channels_last',
            'dilation_rate': pair(dilation), 'groups': groups, 'activation': activation,
            'use_bias': use_bias,
            'kernel_initializer': {'class_name': 'GlorotUniform', 'config': {'seed': None}},
            'bias_initializer': {'class_name': 'Zeros', 'config': {}},
            'kernel_regularizer': None, 'bias_regularizer': None,
            'activity_regularizer': None, 'kernel_constraint': None, 'bias_constraint': None}


def dw_cfg(k, mult=1, strides=1, padding='valid', dilation=1, activation='linear',
           use_bias=True):
    return {'kernel_size': pair(k), 'strides': pair(strides), 'padding': padding,
            'data_format': 'channels_last', 'dilation_rate': pair(dilation),
            'depth_multiplier': mult, 'activation': activation, 'use_bias': use_bias,
            'depthwise_initializer': {'class_name': 'GlorotUniform', 'config': {'seed': None}},
            'bias_initializer': {'class_name': 'Zeros', 'config': {}},
            'depthwise_regularizer': None, 'bias_regularizer': None,
            'activity_regularizer': None, 'depthwise_constraint': None, 'bias_constraint': None}


def sep_cfg(filters, k, mult=1, strides=1, padding='valid', dilation=1, activation='linear',
            use_bias=True):
    return {'filters': filters, 'kernel_size': pair(k), 'strides': pair(strides),
            'padding': padding, 'data_format': 'channels_last',
            'dilation_rate': pair(dilation), 'depth_multiplier': mult,
            'activation': activation, 'use_bias': use_bias,
            'depthwise_initializer': {'class_name': 'GlorotUniform', 'config': {'seed': None}},
            'pointwise_initializer': {'class_name': 'GlorotUniform', 'config': {'seed': None}},
            'bias_initializer': {'class_name': 'Zeros', 'config': {}}}


def dense_cfg(units, activation='linear', use_bias=True):
    return {'units': units, 'activation': activation, 'use_bias': use_bias,
            'kernel_initializer': {'class_name': 'GlorotUniform', 'config': {'seed': None}},
            'bias_initializer': {'class_name': 'Zeros', 'config': {}}}


def pool_cfg(size, strides=None, padding='valid'):
    return {'pool_size': pair(size), 'padding': padding,
            'strides': pair(strides if strides is not None else size),
            'data_format': 'channels_last'}


def bn_cfg(center=True, scale=True, epsilon=0.001):
    return {'axis': -1, 'momentum': 0.99, 'epsilon': epsilon, 'center': center,
            'scale': scale}


ACTIVATIONS = ['linear', 'relu', 'relu6', 'sigmoid', 'hard_sigmoid', 'softmax', 'tanh',
               'elu', 'selu', 'swish', 'gelu', 'softplus', 'softsign']


def zoo_conv():
    b = Builder('conv', 101)
    x = b.input('input_conv', (9, 8, 3))   # odd H, even W: TF's asymmetric "same"
    outs = [
        b('Conv2D', 'conv_valid_3x3', conv_cfg(4, 3, activation='relu'), x),
        b('Conv2D', 'conv_same_3x3', conv_cfg(4, 3, padding='same'), x),
        b('Conv2D', 'conv_same_4x4', conv_cfg(3, 4, padding='same'), x),
        b('Conv2D', 'conv_same_3x3_s2', conv_cfg(4, 3, strides=2, padding='same'), x),
        b('Conv2D', 'conv_same_2x2_s2', conv_cfg(2, 2, strides=2, padding='same'), x),
        b('Conv2D', 'conv_same_5x2_s3x2', conv_cfg(3, (5, 2), strides=(3, 2), padding='same'), x),
        b('Conv2D', 'conv_valid_3x2_s2x1', conv_cfg(5, (3, 2), strides=(2, 1)), x),
        b('Conv2D', 'conv_valid_dil2', conv_cfg(3, 3, dilation=2), x),
        b('Conv2D', 'conv_same_dil2x3', conv_cfg(3, (2, 3), dilation=(2, 3), padding='same'), x),
        b('Conv2D', 'conv_1x1_nobias', conv_cfg(6, 1, use_bias=False), x),
    ]
    y = b('Conv2D', 'conv_chain_same_s2', conv_cfg(8, 3, strides=2, padding='same',
                                                     activation='relu'), outs[1])
    y = b('Conv2D', 'conv_chain_valid', conv_cfg(5, 2, activation='tanh'), y)
    b.output(*outs, y)
    return b


def zoo_activations():
    b = Builder('activations', 102)
    x = b.input('input_act', (4, 5, 3))
    outs = []
    for a in ACTIVATIONS:
        outs.append(b('Conv2D', 'conv_' + a, conv_cfg(4, 1, activation=a), x, gain=3.0))
    pre = b('Conv2D', 'pre_act', conv_cfg(6, 1), x, gain=3.0)
    for a in ACTIVATIONS:
        outs.append(b('Activation', 'act_' + a, act_cfg(a), pre))
    f = b('Flatten', 'flatten_act', {'data_format': 'channels_last'}, x)
    for a in ACTIVATIONS:
        outs.append(b('Dense', 'dense_' + a, dense_cfg(5, a), f, gain=3.0))
    b.output(*outs)
    return b


def zoo_depthwise_separable():
    b = Builder('depthwise_separable', 103)
    x = b.input('input_dw', (9, 8, 3))
    outs = [
        b('DepthwiseConv2D', 'dw_same_3x3', dw_cfg(3, padding='same'), x),
        b('DepthwiseConv2D', 'dw_valid_m2', dw_cfg(3, mult=2, activation='relu6'), x),
        b('DepthwiseConv2D', 'dw_same_s2_m3', dw_cfg(3, mult=3, strides=2, padding='same'), x),
        b('DepthwiseConv2D', 'dw_same_4x4_nobias', dw_cfg(4, padding='same', use_bias=False), x),
        b('SeparableConv2D', 'sep_same_3x3', sep_cfg(5, 3, padding='same', activation='relu'), x),
        b('SeparableConv2D', 'sep_valid_m2', sep_cfg(4, 3, mult=2), x),
        b('SeparableConv2D', 'sep_same_s2_nobias', sep_cfg(4, 3, strides=2, padding='same',
                                                            use_bias=False), x),
        b('SeparableConv2D', 'sep_same_2x2_dil2', sep_cfg(3, 2, padding='same', dilation=2), x),
    ]
    b.output(*outs)
    return b


def zoo_dense():
    b = Builder('dense', 104)
    x = b.input('input_dense', (3, 4, 5))
    d4 = b('Dense', 'dense_rank4', dense_cfg(6, 'relu'), x)
    d4b = b('Dense', 'dense_rank4_nobias', dense_cfg(3, use_bias=False), d4)
    f = b('Flatten', 'flatten_dense', {'data_format': 'channels_last'}, d4b)
    d2 = b('Dense', 'dense_rank2', dense_cfg(7, 'tanh'), f)
    d2b = b('Dense', 'dense_rank2_nobias', dense_cfg(4, 'softmax', use_bias=False), d2)
    b.output(d2b)
    return b


def zoo_pooling():
    b = Builder('pooling', 105)
    x = b.input('input_pool', (9, 8, 3))
    outs = [
        b('MaxPooling2D', 'max_2x2_valid', pool_cfg(2), x),
        b('MaxPooling2D', 'max_3x3_s2_same', pool_cfg(3, 2, 'same'), x),
        b('MaxPooling2D', 'max_2x2_s1_same', pool_cfg(2, 1, 'same'), x),
        b('MaxPooling2D', 'max_3x2_s2x1_valid', pool_cfg((3, 2), (2, 1)), x),
        b('AveragePooling2D', 'avg_2x2_valid', pool_cfg(2), x),
        b('AveragePooling2D', 'avg_3x3_s2_same', pool_cfg(3, 2, 'same'), x),
        b('AveragePooling2D', 'avg_2x2_s1_same', pool_cfg(2, 1, 'same'), x),
        b('AveragePooling2D', 'avg_3x3_s1_same', pool_cfg(3, 1, 'same'), x),
        b('GlobalAveragePooling2D', 'gap', {'data_format': 'channels_last'}, x),
        b('GlobalMaxPooling2D', 'gmp', {'data_format': 'channels_last'}, x),
    ]
    b.output(*outs)
    return b


def zoo_batchnorm():
    b = Builder('batchnorm', 106)
    x = b.input('input_bn', (5, 4, 3))
    c = b('Conv2D', 'conv_bn', conv_cfg(6, 3, padding='same'), x)
    outs = [
        b('BatchNormalization', 'bn_default', bn_cfg(), c),
        b('BatchNormalization', 'bn_no_center', bn_cfg(center=False), c),
        b('BatchNormalization', 'bn_no_scale', bn_cfg(scale=False), c),
        b('BatchNormalization', 'bn_plain_eps', bn_cfg(False, False, 1e-5), c),
    ]
    f = b('GlobalAveragePooling2D', 'gap_bn', {'data_format': 'channels_last'}, outs[0])
    d = b('Dense', 'dense_bn', dense_cfg(4), f)
    outs.append(b('BatchNormalization', 'bn_rank2', bn_cfg(epsilon=0.01), d))
    b.output(*outs)
    return b


def ln_cfg(center=True, scale=True, epsilon=0.001, axis=-1):
    return {'axis': axis, 'epsilon': epsilon, 'center': center, 'scale': scale,
            'beta_initializer': {'class_name': 'Zeros', 'config': {}},
            'gamma_initializer': {'class_name': 'Ones', 'config': {}}}


def zoo_layernorm():
    """LayerNormalization over the channels (issue 20: ConvNeXt's norm), on a
    conv map and on Dense features; the input is shifted so the mean matters."""
    b = Builder('layernorm', 113)
    x = b.input('input_ln', (5, 4, 3))
    c = b('Conv2D', 'conv_ln', conv_cfg(6, 3, padding='same'), x)
    outs = [
        b('LayerNormalization', 'ln_default', ln_cfg(), c),
        b('LayerNormalization', 'ln_no_center', ln_cfg(center=False), c),
        b('LayerNormalization', 'ln_no_scale', ln_cfg(scale=False), c),
        b('LayerNormalization', 'ln_plain_eps', ln_cfg(False, False, 1e-6, [3]), c),
    ]
    f = b('GlobalAveragePooling2D', 'gap_ln', {'data_format': 'channels_last'}, outs[0])
    d = b('Dense', 'dense_ln', dense_cfg(4), f)
    outs.append(b('LayerNormalization', 'ln_rank2', ln_cfg(epsilon=0.01), d))
    b.output(*outs)
    return b


def zoo_relu_family():
    b = Builder('relu_family', 107)
    x = b.input('input_relu', (4, 4, 3))
    c = b('Conv2D', 'pre_relu', conv_cfg(5, 1), x, gain=4.0)
    outs = [
        b('ReLU', 'relu_plain', {'max_value': None, 'negative_slope': 0.0, 'threshold': 0.0}, c),
        b('ReLU', 'relu_max6', {'max_value': 6.0, 'negative_slope': 0.0, 'threshold': 0.0}, c),
        b('ReLU', 'relu_max1', {'max_value': 1.0, 'negative_slope': 0.0, 'threshold': 0.0}, c),
        b('LeakyReLU', 'leaky_default', {'alpha': 0.3}, c),
        b('LeakyReLU', 'leaky_01', {'alpha': 0.1}, c),
        b('Softmax', 'softmax_last', {'axis': -1}, c),
    ]
    b.output(*outs)
    return b


def zoo_merge():
    b = Builder('merge', 108)
    x = b.input('input_merge_a', (4, 3, 4))
    y = b.input('input_merge_b', (4, 3, 4))
    ca = b('Conv2D', 'conv_merge_a', conv_cfg(4, 1), x)
    cb = b('Conv2D', 'conv_merge_b', conv_cfg(4, 1), y)
    cc = b('Conv2D', 'conv_merge_c', conv_cfg(4, 3, padding='same'), x)
    outs = [
        b('Add', 'add2', {}, [ca, cb]),
        b('Add', 'add3', {}, [ca, cb, cc]),
        b('Multiply', 'multiply', {}, [ca, cb]),
        b('Average', 'average', {}, [ca, cb, cc]),
        b('Maximum', 'maximum', {}, [ca, cb]),
        b('Minimum', 'minimum', {}, [ca, cb, cc]),
        b('Concatenate', 'concat_last', {'axis': -1}, [ca, x, cb]),
        b('Concatenate', 'concat_axis2', {'axis': 2}, [ca, cc]),
    ]
    b.output(*outs)
    return b


def zoo_shape():
    b = Builder('shape', 109)
    x = b.input('input_shape', (5, 6, 2))
    outs = [
        b('ZeroPadding2D', 'zpad_1', {'padding': [[1, 1], [1, 1]], 'data_format': 'channels_last'}, x),
        b('ZeroPadding2D', 'zpad_asym', {'padding': [[0, 2], [3, 1]], 'data_format': 'channels_last'}, x),
        b('Cropping2D', 'crop_asym', {'cropping': [[1, 0], [2, 1]], 'data_format': 'channels_last'}, x),
        b('UpSampling2D', 'up_nearest_2', {'size': [2, 2], 'data_format': 'channels_last',
                                           'interpolation': 'nearest'}, x),
        b('UpSampling2D', 'up_nearest_2x3', {'size': [2, 3], 'data_format': 'channels_last',
                                             'interpolation': 'nearest'}, x),
    ]
    r = b('Reshape', 'reshape_flat_hw', {'target_shape': [30, 2]}, x)
    rb = b('Reshape', 'reshape_back', {'target_shape': [3, -1, 2]}, r)
    f = b('Flatten', 'flatten_shape', {'data_format': 'channels_last'}, r)
    r2 = b('Reshape', 'reshape_to4d', {'target_shape': [2, 5, 6]}, f)
    outs += [rb, r2]
    b.output(*outs)
    return b


def zoo_permute_reshape():
    # Issue 20: Permute and general Reshape (what ONNX graphs use them for),
    # a channel shuffle between convolutions, Dense after a Permute.
    b = Builder('permute_reshape', 113)
    x = b.input('input_perm', (4, 6, 8))
    c = b('Conv2D', 'conv_perm_in', conv_cfg(8, 1), x)
    outs = [
        b('Permute', 'permute_hw', {'dims': [2, 1, 3]}, c),
        b('Permute', 'permute_chw', {'dims': [3, 1, 2]}, c),
        b('Permute', 'permute_cwh', {'dims': [3, 2, 1]}, c),
    ]
    # ShuffleNet's channel shuffle: (H, W, 2, 4) -> (H, W, 4, 2) -> (H, W, 8)
    r = b('Reshape', 'shuffle_split', {'target_shape': [4, 6, 2, 4]}, c)
    p = b('Permute', 'shuffle_swap', {'dims': [1, 2, 4, 3]}, r)
    sh = b('Reshape', 'shuffle_merge', {'target_shape': [4, 6, 8]}, p)
    y = b('Conv2D', 'conv_after_shuffle', conv_cfg(3, 3, padding='same'), sh)
    # reshapes that regroup leading axes, a 2-D Permute, Dense over the new last axis
    g1 = b('Reshape', 'reshape_rows', {'target_shape': [24, 8]}, c)
    g2 = b('Permute', 'permute_2d', {'dims': [2, 1]}, g1)
    g3 = b('Reshape', 'reshape_regroup', {'target_shape': [2, -1, 6]}, g2)
    d = b('Dense', 'dense_after_permute', dense_cfg(5), g2)
    g4 = b('Reshape', 'reshape_to_map', {'target_shape': [6, 4, 8]}, g1)
    z = b('Conv2D', 'conv_after_reshape', conv_cfg(2, 2, strides=2), g4)
    outs += [y, g3, d, z]
    b.output(*outs)
    return b


def zoo_noise_preprocess():
    b = Builder('noise_preprocess', 110)
    x = b.input('input_noise', (6, 5, 3))
    r = b('Rescaling', 'rescale', {'scale': 1.0 / 127.5, 'offset': -1.0}, x)
    d = b('Dropout', 'dropout', {'rate': 0.5, 'noise_shape': None, 'seed': None}, r)
    g = b('GaussianNoise', 'gaussian_noise', {'stddev': 0.3}, d)
    gd = b('GaussianDropout', 'gaussian_dropout', {'rate': 0.4}, g)
    c = b('Conv2D', 'conv_noise', conv_cfg(4, 3, padding='same'), gd)
    b.output(c)
    return b


def zoo_branches():
    """Functional model with branches and a shared layer."""
    b = Builder('branches', 111)
    x = b.input('input_branches', (8, 8, 3))
    stem = b('Conv2D', 'stem', conv_cfg(6, 3, padding='same', activation='relu'), x)
    b1 = b('Conv2D', 'branch1_1x1', conv_cfg(6, 1, activation='relu'), stem)
    b2 = b('Conv2D', 'branch2_3x3', conv_cfg(6, 3, padding='same'), stem)
    b2 = b('BatchNormalization', 'branch2_bn', bn_cfg(), b2)
    b2 = b('Activation', 'branch2_relu', act_cfg('relu'), b2)
    b3 = b('MaxPooling2D', 'branch3_pool', pool_cfg(3, 1, 'same'), stem)
    # the shared layer, applied to two branches
    s1 = b('Conv2D', 'shared_conv', conv_cfg(4, 3, padding='same', activation='tanh'), b1)
    s2 = b('Conv2D', 'shared_conv', {}, b2)
    add = b('Add', 'add_shared', {}, [s1, s2])
    cat = b('Concatenate', 'concat_branches', {'axis': -1}, [add, b3, s2])
    p = b('GlobalAveragePooling2D', 'gap_branches', {'data_format': 'channels_last'}, cat)
    head = b('Dense', 'head', dense_cfg(5, 'softmax'), p)
    aux = b('Dense', 'aux_head', dense_cfg(2, 'sigmoid'), p)
    b.output(head, aux)
    return b


def zoo_nested():
    """A Sequential inside a Functional (and a Functional inside that Sequential)."""
    b = Builder('nested', 112)
    x = b.input('input_nested', (7, 7, 3))
    c = b('Conv2D', 'outer_conv', conv_cfg(4, 3, padding='same', activation='relu'), x)

    inner_f = Builder('inner_functional', 113)
    fi = inner_f.input('inner_functional_input', (7, 7, 4))
    f1 = inner_f('Conv2D', 'inner_f_conv', conv_cfg(4, 3, padding='same', activation='relu'), fi)
    f2 = inner_f('Add', 'inner_f_add', {}, [f1, fi])
    inner_f.output(f2)

    seq = Builder('inner_sequential', 114)
    si = seq.input('inner_sequential_input', (7, 7, 4))
    s = seq('DepthwiseConv2D', 'inner_dw', dw_cfg(3, padding='same'), si)
    s = seq('BatchNormalization', 'inner_bn', bn_cfg(), s)
    s = seq('ReLU', 'inner_relu6', {'max_value': 6.0, 'negative_slope': 0.0, 'threshold': 0.0}, s)
    s = seq.nested(inner_f, s)
    s = seq('MaxPooling2D', 'inner_pool', pool_cfg(2), s)
    seq.output(s)
    seq.sequential = True

    n = b.nested_seq(seq, c)
    y = b('GlobalMaxPooling2D', 'outer_gmp', {'data_format': 'channels_last'}, n)
    y = b('Dense', 'outer_dense', dense_cfg(3, 'softmax'), y)
    b.output(y)
    return b


def nested_seq(self, sub, inputs):
    """Calls @sub as a nested Sequential."""
    ref = self.nested(sub, inputs)
    entry = self.by_name[sub.name]
    seq_cfg = sub.model_config(sequential=True)
    entry['class_name'] = 'Sequential'
    entry['config'] = seq_cfg['config']
    return ref


Builder.nested_seq = nested_seq


def zoo_sequential():
    """A top-level Sequential (Keras 2.4+ form: InputLayer first)."""
    b = Builder('sequential_cnn', 115)
    x = b.input('sequential_cnn_input', (10, 9, 2))
    y = b('Conv2D', 'seq_conv1', conv_cfg(4, 3, activation='relu'), x)
    y = b('MaxPooling2D', 'seq_pool1', pool_cfg(2), y)
    y = b('Conv2D', 'seq_conv2', conv_cfg(6, 2, padding='same', activation='elu'), y)
    y = b('BatchNormalization', 'seq_bn', bn_cfg(), y)
    y = b('Dropout', 'seq_dropout', {'rate': 0.25, 'noise_shape': None, 'seed': None}, y)
    y = b('Flatten', 'seq_flatten', {'data_format': 'channels_last'}, y)
    y = b('Dense', 'seq_dense1', dense_cfg(8, 'relu'), y)
    y = b('Dense', 'seq_dense2', dense_cfg(3, 'softmax'), y)
    b.output(y)
    b.sequential = True
    return b


# Layers / options TF.js 4.x cannot express: numpy references.
def zoo_np_subtract():
    b = Builder('np_subtract', 201)
    x = b.input('input_sub_a', (3, 4, 2))
    y = b.input('input_sub_b', (3, 4, 2))
    b.output(b('Subtract', 'subtract', {}, [x, y]))
    return b


def zoo_np_activations():
    b = Builder('np_activations', 202)
    x = b.input('input_np_act', (3, 3, 4))
    outs = [b('Activation', 'act_exponential', act_cfg('exponential'), x),
            b('Conv2D', 'conv_exponential', conv_cfg(3, 1, activation='exponential'), x)]
    b.output(*outs)
    return b


def zoo_np_relu_options():
    b = Builder('np_relu_options', 203)
    x = b.input('input_np_relu', (3, 4, 5))
    outs = [
        b('ReLU', 'relu_slope', {'max_value': None, 'negative_slope': 0.2, 'threshold': 0.0}, x),
        b('ReLU', 'relu_threshold', {'max_value': None, 'negative_slope': 0.0, 'threshold': 0.5}, x),
        b('ReLU', 'relu_all', {'max_value': 1.5, 'negative_slope': 0.1, 'threshold': -0.25}, x),
    ]
    b.output(*outs)
    return b


def zoo_np_global_keepdims():
    b = Builder('np_global_keepdims', 204)
    x = b.input('input_np_gkd', (5, 4, 3))
    outs = [b('GlobalAveragePooling2D', 'gap_keepdims', {'data_format': 'channels_last',
                                                         'keepdims': True}, x),
            b('GlobalMaxPooling2D', 'gmp_keepdims', {'data_format': 'channels_last',
                                                     'keepdims': True}, x)]
    b.output(*outs)
    return b


def zoo_np_resize():
    b = Builder('np_resize', 205)
    x = b.input('input_np_resize', (5, 6, 2))
    outs = [
        b('UpSampling2D', 'up_bilinear_2', {'size': [2, 2], 'data_format': 'channels_last',
                                            'interpolation': 'bilinear'}, x),
        b('UpSampling2D', 'up_bilinear_3x2', {'size': [3, 2], 'data_format': 'channels_last',
                                              'interpolation': 'bilinear'}, x),
        b('Resizing', 'resize_bilinear_up', {'height': 8, 'width': 9, 'interpolation': 'bilinear',
                                             'crop_to_aspect_ratio': False}, x),
        b('Resizing', 'resize_bilinear_down', {'height': 3, 'width': 4, 'interpolation': 'bilinear',
                                               'crop_to_aspect_ratio': False}, x),
        b('Resizing', 'resize_nearest', {'height': 7, 'width': 4, 'interpolation': 'nearest',
                                         'crop_to_aspect_ratio': False}, x),
        b('CenterCrop', 'center_crop', {'height': 3, 'width': 3}, x),
        b('CenterCrop', 'center_crop_even', {'height': 2, 'width': 5}, x),
    ]
    b.output(*outs)
    return b


def zoo_np_identity_layers():
    b = Builder('np_identity_layers', 206)
    x = b.input('input_np_id', (6, 6, 3))
    y = b('SpatialDropout2D', 'spatial_dropout', {'rate': 0.5, 'data_format': 'channels_last'}, x)
    y = b('RandomFlip', 'random_flip', {'mode': 'horizontal_and_vertical', 'seed': None}, y)
    y = b('RandomRotation', 'random_rotation', {'factor': 0.2, 'fill_mode': 'reflect',
                                                'interpolation': 'bilinear', 'seed': None,
                                                'fill_value': 0.0}, y)
    y = b('RandomZoom', 'random_zoom', {'height_factor': 0.2, 'width_factor': None,
                                        'fill_mode': 'reflect', 'interpolation': 'bilinear',
                                        'seed': None, 'fill_value': 0.0}, y)
    y = b('RandomTranslation', 'random_translation', {'height_factor': 0.1, 'width_factor': 0.1,
                                                      'fill_mode': 'reflect',
                                                      'interpolation': 'bilinear',
                                                      'seed': None, 'fill_value': 0.0}, y)
    y = b('RandomContrast', 'random_contrast', {'factor': 0.3, 'seed': None}, y)
    b.output(y)
    return b


def zoo_np_depthwise_dilation():
    # TF.js 4.x DepthwiseConv2D ignores dilation_rate ("TODO: Add support for dilation").
    b = Builder('np_depthwise_dilation', 208)
    x = b.input('input_np_dw', (9, 8, 3))
    outs = [b('DepthwiseConv2D', 'dw_valid_dil2', dw_cfg(3, dilation=2), x),
            b('DepthwiseConv2D', 'dw_same_dil2x3_m2', dw_cfg(3, mult=2, padding='same',
                                                             dilation=(2, 3),
                                                             activation='relu'), x)]
    b.output(*outs)
    return b


def zoo_np_grouped_conv():
    # Issue 20: Conv2D(groups=...) (tf.keras 2.3+); TF.js 4.x Conv2D has no groups.
    b = Builder('np_grouped_conv', 209)
    x = b.input('input_np_grp', (7, 8, 8))
    outs = [b('Conv2D', 'conv_g2_valid', conv_cfg(6, 3, groups=2), x),
            b('Conv2D', 'conv_g4_same_s2', conv_cfg(8, 3, strides=2, padding='same', groups=4,
                                                    activation='relu'), x),
            b('Conv2D', 'conv_g8_dil_nobias', conv_cfg(16, (2, 3), dilation=(2, 1), groups=8,
                                                       use_bias=False), x)]
    b.output(*outs)
    return b


def zoo_np_keras3_hard():
    # Issue 20: a Keras 3 file.  Keras 3's hard_sigmoid is relu6(x + 3) / 6
    # (keras/src/activations/activations.py), not Keras 2's / TF.js'
    # clip(0.2 x + 0.5, 0, 1) (the activations model checks that one);
    # hard_swish and its alias hard_silu are x relu6(x + 3) / 6.  Inputs
    # spread to [-4.75, 5.25] so that both clip.
    b = Builder('np_keras3_hard', 210)
    b.keras_version = '3.3.3'
    x = b.input('input_np_k3', (3, 4, 5))
    s = b('Rescaling', 'spread', {'scale': 5.0, 'offset': 0.25}, x)
    outs = [b('Activation', 'act_hard_sigmoid', act_cfg('hard_sigmoid'), s),
            b('Activation', 'act_hard_swish', act_cfg('hard_swish'), s),
            b('Activation', 'act_hard_silu', act_cfg('hard_silu'), s),
            b('Conv2D', 'conv_hard_swish', conv_cfg(4, 1, activation='hard_swish'), s, gain=3.0),
            b('Dense', 'dense_hard_sigmoid', dense_cfg(3, 'hard_sigmoid'), s, gain=3.0)]
    b.output(*outs)
    return b


def zoo_np_normalization():
    b = Builder('np_normalization', 207)
    x = b.input('input_np_norm', (3, 4, 3))
    outs = [b('Normalization', 'norm_adapted', {'axis': [-1], 'mean': None, 'variance': None}, x),
            b('Normalization', 'norm_config', {'axis': [-1], 'mean': [0.5, -0.25, 0.0],
                                               'variance': [4.0, 0.25, 1.0]}, x)]
    b.output(*outs)
    return b


TFJS_ZOO = [zoo_conv, zoo_activations, zoo_depthwise_separable, zoo_dense, zoo_pooling,
            zoo_batchnorm, zoo_layernorm, zoo_relu_family, zoo_merge, zoo_shape,
            zoo_noise_preprocess, zoo_branches, zoo_nested, zoo_sequential, zoo_permute_reshape]
NUMPY_ZOO = [zoo_np_subtract, zoo_np_activations, zoo_np_relu_options, zoo_np_global_keepdims,
             zoo_np_resize, zoo_np_identity_layers, zoo_np_normalization,
             zoo_np_depthwise_dilation, zoo_np_grouped_conv, zoo_np_keras3_hard]


# --------------------------------------------------------------------------
# Writing Keras 2 .h5 files

def write_keras2_h5(path, b):
    sequential = getattr(b, 'sequential', False)
    version = getattr(b, 'keras_version', KERAS_VERSION)
    cfg = b.model_config(sequential=sequential)
    cfg['keras_version'] = version
    cfg['backend'] = 'tensorflow'
    with h5py.File(path, 'w') as f:
        f.attrs['backend'] = 'tensorflow'
        f.attrs['keras_version'] = version
        f.attrs['model_config'] = json.dumps(cfg)
        mw = f.create_group('model_weights')
        # Sequential models do not list their InputLayer in layer_names.
        names = [e['name'] for e in b.layers
                 if not (sequential and e['class_name'] == 'InputLayer')]
        mw.attrs['backend'] = 'tensorflow'
        mw.attrs['keras_version'] = version
        mw.attrs['layer_names'] = np.array([n.encode() for n in names])
        for e in b.layers:
            name = e['name']
            if name not in names:
                continue
            g = mw.create_group(name)
            if e['class_name'] in ('Sequential', 'Functional'):
                ws = b.weights[name]
            else:
                ws = [(name + '/' + wn, a) for wn, a in b.weights.get(name, [])]
            if ws:
                g.attrs['weight_names'] = np.array([wn.encode() for wn, _ in ws])
            else:
                g.attrs['weight_names'] = np.asarray([])
            for wn, a in ws:
                g.create_dataset(wn, data=a)


# --------------------------------------------------------------------------
# Inputs

def make_input(rng, shape, lo, hi, quantize=False):
    if quantize:
        # 8-bit image-like values, exact in float16 (k/256 or k/128 - 1).
        k = rng.integers(0, 256, size=shape)
        v = k / 256.0 if lo == 0 else k / 128.0 - 1.0
        return v.astype(np.float32)
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


# --------------------------------------------------------------------------
# Hand-off files for run-tfjs.js

def write_blob(work, name, meta, arrays):
    """arrays: list of (key, array) -> meta['tensors'] with offsets into <name>.bin."""
    tensors = []
    off = 0
    with open(os.path.join(work, name + '.bin'), 'wb') as f:
        for key, a in arrays:
            a = np.ascontiguousarray(a, dtype=np.float32)
            f.write(a.tobytes())
            tensors.append({'key': key, 'shape': list(a.shape), 'offset': off})
            off += a.nbytes
    meta['tensors'] = tensors
    with open(os.path.join(work, name + '.json'), 'w') as f:
        json.dump(meta, f)


def read_blob(work, name):
    with open(os.path.join(work, name + '.json')) as f:
        meta = json.load(f)
    raw = open(os.path.join(work, name + '.bin'), 'rb').read()
    out = []
    for t in meta['tensors']:
        n = int(np.prod(t['shape'])) if t['shape'] else 1
        a = np.frombuffer(raw, dtype=np.float32, count=n, offset=t['offset']).reshape(t['shape'])
        out.append((t, a.copy()))
    return meta, out


def layer_weights_by_name(weight_paths):
    """Groups [(path, array)] by the layer that owns them: the path component
    before the weight's own name ('seq/dense/kernel:0' -> 'dense')."""
    out = {}
    for path, a in weight_paths:
        parts = path.split('/')
        layer = parts[-2] if len(parts) >= 2 else ''
        out.setdefault(layer, []).append(a)
    return out


def tfjs_topology(cfg):
    """Keras 2 config -> what TF.js 4.x loads: no regularizers/constraints,
    and a nested model called from a Functional is referenced with node
    index + 1 (TF.js counts the nested model's own internal node, Keras does
    not)."""
    cfg = json.loads(json.dumps(cfg))

    def strip(obj):
        # Regularizers and constraints only matter for training; TF.js lacks
        # some of them (L2 as a class name).
        if isinstance(obj, list):
            for v in obj:
                strip(v)
        elif isinstance(obj, dict):
            for k in obj:
                if k.endswith('_regularizer') or k.endswith('_constraint'):
                    obj[k] = None
                else:
                    strip(obj[k])
    strip(cfg)

    def fix(model):
        c = model['config']
        layers = c['layers'] if isinstance(c, dict) else c
        nested = {l.get('name', l['config'].get('name')) for l in layers
                  if l['class_name'] in ('Sequential', 'Functional', 'Model')}
        for l in layers:
            if l['class_name'] in ('Sequential', 'Functional', 'Model'):
                fix(l)
        if model['class_name'] == 'Sequential':
            return
        for l in layers:
            for node in l.get('inbound_nodes', []):
                for ref in node:
                    if ref[0] in nested:
                        ref[1] += 1
        for ref in c.get('output_layers', []):
            if ref[0] in nested:
                ref[1] += 1
    fix(cfg)
    return cfg


def emit_tfjs(work, name, cfg, weight_paths, inputs, extra):
    weights = layer_weights_by_name(weight_paths)
    arrays = []
    wmeta = {}
    for layer, arrs in weights.items():
        wmeta[layer] = len(arrs)
        for i, a in enumerate(arrs):
            arrays.append(('w:%s:%d' % (layer, i), a))
    for i, a in enumerate(inputs):
        arrays.append(('input_%d' % i, a))
    meta = {'name': name, 'topology': tfjs_topology(cfg), 'weights': wmeta,
            'n_inputs': len(inputs)}
    meta.update(extra)
    write_blob(work, name, meta, arrays)


# --------------------------------------------------------------------------
# numpy references

def np_act(a, x, keras3=False):
    x = x.astype(np.float64)
    if a == 'exponential':
        return np.exp(x)
    if a == 'hard_sigmoid':
        # Keras 3: relu6(x + 3) / 6; Keras 2 and TF.js: clip(0.2 x + 0.5, 0, 1)
        return np.clip(x + 3, 0, 6) / 6 if keras3 else np.clip(0.2 * x + 0.5, 0, 1)
    if a in ('hard_swish', 'hard_silu'):
        return x * np.clip(x + 3, 0, 6) / 6
    if a == 'linear':
        return x
    if a == 'relu':
        return np.maximum(x, 0)
    raise ValueError(a)


def np_conv(x, k, bias, c):
    """Keras Conv2D with groups: TF 'same' padding (extra row/column at the end);
    filter f sees the input channels of group f // (filters / groups)."""
    kh, kw, cg, f = k.shape
    g = c.get('groups', 1)
    st = pair(c['strides'])
    d = pair(c['dilation_rate'])
    n, h, w, cin = x.shape
    assert cg * g == cin and f % g == 0
    oh = conv_out(h, kh, st[0], d[0], c['padding'])
    ow = conv_out(w, kw, st[1], d[1], c['padding'])
    ph = pw = 0
    if c['padding'] == 'same':
        ph = max((oh - 1) * st[0] + (kh - 1) * d[0] + 1 - h, 0)
        pw = max((ow - 1) * st[1] + (kw - 1) * d[1] + 1 - w, 0)
    xp = np.pad(x.astype(np.float64), ((0, 0), (ph // 2, ph - ph // 2),
                                       (pw // 2, pw - pw // 2), (0, 0)))
    y = np.zeros((n, oh, ow, f))
    fg = f // g
    for gi in range(g):
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, i * d[0]:i * d[0] + (oh - 1) * st[0] + 1:st[0],
                           j * d[1]:j * d[1] + (ow - 1) * st[1] + 1:st[1],
                           gi * cg:(gi + 1) * cg]
                y[..., gi * fg:(gi + 1) * fg] += np.einsum(
                    'nhwc,cf->nhwf', patch, k[i, j, :, gi * fg:(gi + 1) * fg].astype(np.float64))
    return y + bias if bias is not None else y


def np_depthwise(x, k, bias, c):
    """Keras DepthwiseConv2D: TF 'same' padding (extra row/column at the end)."""
    kh, kw, cin, m = k.shape
    st = pair(c['strides'])
    d = pair(c['dilation_rate'])
    n, h, w, _ = x.shape
    oh = conv_out(h, kh, st[0], d[0], c['padding'])
    ow = conv_out(w, kw, st[1], d[1], c['padding'])
    ph = pw = 0
    if c['padding'] == 'same':
        ph = max((oh - 1) * st[0] + (kh - 1) * d[0] + 1 - h, 0)
        pw = max((ow - 1) * st[1] + (kw - 1) * d[1] + 1 - w, 0)
    xp = np.pad(x.astype(np.float64), ((0, 0), (ph // 2, ph - ph // 2),
                                       (pw // 2, pw - pw // 2), (0, 0)))
    y = np.zeros((n, oh, ow, cin, m))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, i * d[0]:i * d[0] + (oh - 1) * st[0] + 1:st[0],
                       j * d[1]:j * d[1] + (ow - 1) * st[1] + 1:st[1]]
            y += patch[..., None] * k[i, j].astype(np.float64)
    y = y.reshape(n, oh, ow, cin * m)
    return y + bias if bias is not None else y


def np_resize_bilinear(x, oh, ow):
    """tf.image.resize(method='bilinear', antialias=False): half-pixel centres."""
    n, h, w, c = x.shape

    def weights(out, inn):
        scale = inn / out
        src = (np.arange(out) + 0.5) * scale - 0.5
        f = np.floor(src)
        lo = np.maximum(f, 0).astype(int)
        hi = np.minimum(np.ceil(src), inn - 1).astype(int)
        return lo, hi, src - f
    y0, y1, fy = weights(oh, h)
    x0, x1, fx = weights(ow, w)
    x = x.astype(np.float64)
    top = x[:, y0] + (x[:, y1] - x[:, y0]) * fy[None, :, None, None]
    return top[:, :, x0] + (top[:, :, x1] - top[:, :, x0]) * fx[None, None, :, None]


def np_resize_nearest(x, oh, ow):
    """tf.image.resize(method='nearest'): half-pixel centres, floor."""
    n, h, w, c = x.shape
    ys = np.minimum(np.floor((np.arange(oh) + 0.5) * (h / oh)), h - 1).astype(int)
    xs = np.minimum(np.floor((np.arange(ow) + 0.5) * (w / ow)), w - 1).astype(int)
    return x[:, ys][:, :, xs].astype(np.float64)


def np_relu(x, max_value, slope, threshold):
    x = x.astype(np.float64)
    y = np.where(x >= threshold, x, slope * (x - threshold))
    if max_value is not None:
        y = np.minimum(y, max_value)
    return y


def np_forward(b, inputs):
    """Runs a numpy-zoo model: every layer in config order (no shared layers)."""
    vals = {}
    keras3 = getattr(b, 'keras_version', KERAS_VERSION).startswith('3.')
    for e, v in zip([l for l in b.layers if l['class_name'] == 'InputLayer'], inputs):
        vals[e['name']] = v.astype(np.float64)
    for e in b.layers:
        cls, c, name = e['class_name'], e['config'], e['name']
        if cls == 'InputLayer':
            continue
        ins = [vals[r[0]] for r in e['inbound_nodes'][0]]
        x = ins[0]
        w = [a for _, a in b.weights.get(name, [])]
        if cls == 'Subtract':
            y = ins[0] - ins[1]
        elif cls == 'Activation':
            y = np_act(c['activation'], x, keras3)
        elif cls == 'Conv2D':
            y = np_act(c['activation'], np_conv(x, w[0], w[1] if len(w) > 1 else None, c),
                       keras3)
        elif cls == 'Dense':
            y = np_act(c['activation'],
                       x @ w[0].astype(np.float64) + (w[1] if len(w) > 1 else 0), keras3)
        elif cls == 'Rescaling':
            y = x * c['scale'] + c['offset']
        elif cls == 'DepthwiseConv2D':
            y = np_act(c['activation'], np_depthwise(x, w[0], w[1] if len(w) > 1 else None, c))
        elif cls == 'ReLU':
            y = np_relu(x, c['max_value'], c['negative_slope'], c['threshold'])
        elif cls == 'GlobalAveragePooling2D':
            y = x.mean(axis=(1, 2), keepdims=c.get('keepdims', False))
        elif cls == 'GlobalMaxPooling2D':
            y = x.max(axis=(1, 2), keepdims=c.get('keepdims', False))
        elif cls == 'UpSampling2D':
            z = pair(c['size'])
            if c['interpolation'] == 'bilinear':
                y = np_resize_bilinear(x, x.shape[1] * z[0], x.shape[2] * z[1])
            else:
                y = x.repeat(z[0], axis=1).repeat(z[1], axis=2)
        elif cls == 'Resizing':
            if c['interpolation'] == 'bilinear':
                y = np_resize_bilinear(x, c['height'], c['width'])
            else:
                y = np_resize_nearest(x, c['height'], c['width'])
        elif cls == 'CenterCrop':
            h0 = (x.shape[1] - c['height']) // 2
            w0 = (x.shape[2] - c['width']) // 2
            y = x[:, h0:h0 + c['height'], w0:w0 + c['width']]
        elif cls in ('SpatialDropout2D', 'RandomFlip', 'RandomRotation', 'RandomZoom',
                     'RandomTranslation', 'RandomContrast'):
            y = x   # inference: identity
        elif cls == 'Normalization':
            if c.get('mean') is not None:
                mean = np.array(c['mean'], dtype=np.float64)
                var = np.array(c['variance'], dtype=np.float64)
            else:
                mean = w[0].astype(np.float64)
                var = w[1].astype(np.float64)
            y = (x - mean) / np.maximum(np.sqrt(var), 1e-7)
        else:
            raise ValueError('no numpy reference for ' + cls)
        vals[name] = y
    return [(e['name'], e['class_name'], '', vals[e['name']]) for e in b.layers]


# --------------------------------------------------------------------------
# .ref.h5 output

def sample_stride(numel, last):
    s = max(1, -(-numel // SAMPLES))
    while math.gcd(s, last) != 1 and s > 1:
        s += 1
    return s


def write_ref(path, model_file, reference, inputs, layers, extra_attrs, quantized):
    """layers: [(name, class, group, array with batch)]."""
    with h5py.File(path, 'w') as f:
        f.attrs['model'] = model_file
        f.attrs['reference'] = reference
        f.attrs['rtol'] = 1e-4
        f.attrs['atol'] = 1e-5
        for k, v in extra_attrs.items():
            f.attrs[k] = v
        for i, a in enumerate(inputs):
            if quantized:
                f.create_dataset('input_%d' % i, data=a.astype(np.float16),
                                 compression='gzip', shuffle=True)
            else:
                f.create_dataset('input_%d' % i, data=a.astype(np.float32))
        g = f.create_group('layers')
        order = []
        for name, cls, group, a in layers:
            a = np.asarray(a, dtype=np.float32)
            if a.size > FULL_LIMIT:
                s = sample_stride(a.size, a.shape[-1])
                d = g.create_dataset(name, data=a.reshape(-1)[::s])
                d.attrs['sample_stride'] = s
            else:
                d = g.create_dataset(name, data=a)
            d.attrs['shape'] = np.array(a.shape, dtype=np.int64)
            d.attrs['class_name'] = cls
            d.attrs['group'] = group
            order.append(name)
        g.attrs['order'] = json.dumps(order)


# --------------------------------------------------------------------------
# Fixtures

FIXTURES = [
    # file, where, input range, batch
    ('oarriaga__fer2013_mini_XCEPTION.102-0.66.hdf5', 'models', (-1, 1), 2),
    ('mlcommons__pretrainedResnet.h5', 'models', (0, 1), 2),
    ('963n__keras_model.h5', 'models', (-1, 1), 1),
    ('MayurJr__model_cifar10.h5', 'shared', (0, 1), 2),
    # Mirada's built-in model, written by Mirada's own .h5 writer: TF.js
    # building it from its config and weights checks the writer (issue 4).
    ('model.h5', 'default', (0, 1), 2),
]


def fixture_path(fname, where):
    if where == 'models':
        return os.path.join(MODELS_DIR, fname)
    if where == 'default':
        return os.path.join(TOP, 'resources', 'default', fname)
    return os.path.join(SHARED_DIR, 'fixtures', 'models', fname)


def keras3_to_keras2(obj):
    """Keras 3 config conventions -> the Keras 2 form TF.js understands."""
    if isinstance(obj, list):
        return [keras3_to_keras2(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if obj.get('class_name') == 'DTypePolicy':
        return obj['config']['name']
    out = {}
    for k, v in obj.items():
        if k in ('module', 'registered_name', 'build_config', 'compile_config'):
            continue
        if k == 'batch_shape':
            k = 'batch_input_shape'
        out[k] = keras3_to_keras2(v)
    return out


def read_fixture(path):
    with h5py.File(path, 'r') as f:
        version = f.attrs.get('keras_version', b'')
        version = version.decode() if isinstance(version, bytes) else str(version)
        cfg = f.attrs['model_config']
        cfg = json.loads(cfg.decode() if isinstance(cfg, bytes) else cfg)
        if version.startswith('3'):
            cfg = keras3_to_keras2(cfg)
        mw = f['model_weights']
        paths = []
        for lname in mw.attrs['layer_names']:
            lname = lname.decode() if isinstance(lname, bytes) else lname
            g = mw[lname]
            for wn in g.attrs.get('weight_names', []):
                wn = wn.decode() if isinstance(wn, bytes) else wn
                a = g[wn][()]
                # weights of a plain layer belong to it whatever they are called
                # (Keras 2.0 wrote 'conv2d_1_1/kernel:0' in group 'conv2d_1')
                if not is_model_layer(cfg, lname):
                    wn = lname + '/' + wn.split('/')[-1]
                paths.append((wn, a))
    return version, cfg, paths


def is_model_layer(cfg, lname):
    c = cfg['config']
    layers = c['layers'] if isinstance(c, dict) else c
    for l in layers:
        n = l.get('name', l['config'].get('name'))
        if n == lname:
            return l['class_name'] in ('Sequential', 'Functional', 'Model')
    return False


def model_input_shapes(cfg):
    c = cfg['config']
    layers = c['layers'] if isinstance(c, dict) else c
    if cfg['class_name'] == 'Sequential':
        first = layers[0]
        if first['class_name'] in ('Sequential', 'Functional', 'Model'):
            return model_input_shapes(first)
        return [first['config']['batch_input_shape'][1:]]
    shapes = []
    for ref in c['input_layers']:
        for l in layers:
            if l['name'] == ref[0]:
                shapes.append(l['config']['batch_input_shape'][1:])
    return shapes


# --------------------------------------------------------------------------

def cmd_models(work, only=None):
    os.makedirs(work, exist_ok=True)
    os.makedirs(REF_DIR, exist_ok=True)
    index = {'tfjs': [], 'numpy': [], 'fixtures': []}
    for fn in TFJS_ZOO + NUMPY_ZOO:
        b = fn()
        if only and b.name not in only:
            continue
        sequential = getattr(b, 'sequential', False)
        write_keras2_h5(os.path.join(REF_DIR, b.name + '.h5'), b)
        rng = np.random.default_rng(1000 + len(b.name))
        inputs = [make_input(rng, (BATCH,) + b.shapes[(r[0], 0)], -1, 1) for r in b.inputs]
        if fn in TFJS_ZOO:
            cfg = b.model_config(sequential=sequential)
            emit_tfjs(work, b.name, cfg, b.all_weights(), inputs, {})
            index['tfjs'].append(b.name)
        else:
            layers = np_forward(b, inputs)
            write_ref(os.path.join(REF_DIR, b.name + '.ref.h5'), b.name + '.h5', 'numpy',
                      inputs, layers, {}, False)
            index['numpy'].append(b.name)
    if not only:
        add_fixtures(work, index)
    with open(os.path.join(work, 'index.json'), 'w') as f:
        json.dump(index, f, indent=1)
    return index


def add_fixtures(work, index, only=None):
    for fname, where, (lo, hi), batch in FIXTURES:
        if only is not None and fname not in only:
            continue
        path = fixture_path(fname, where)
        if not os.path.exists(path):
            print('fixture missing, skipped:', path)
            continue
        version, cfg, paths = read_fixture(path)
        rng = np.random.default_rng(7)
        inputs = [make_input(rng, tuple([batch] + list(s)), lo, hi, quantize=True)
                  for s in model_input_shapes(cfg)]
        name = 'fixture-' + fname
        emit_tfjs(work, name, cfg, paths, inputs,
                  {'fixture': fname, 'where': where, 'keras_version': version})
        index['fixtures'].append(name)


def cmd_fixtures(work, only):
    """Only the fixture references (e.g. after retraining the built-in model)."""
    os.makedirs(work, exist_ok=True)
    index = {'tfjs': [], 'numpy': [], 'fixtures': []}
    add_fixtures(work, index, only or None)
    with open(os.path.join(work, 'index.json'), 'w') as f:
        json.dump(index, f, indent=1)
    return index


def cmd_refs(work, tfjs_version):
    with open(os.path.join(work, 'index.json')) as f:
        index = json.load(f)
    os.makedirs(os.path.join(REF_DIR, 'fixtures'), exist_ok=True)
    for name in index['tfjs'] + index['fixtures']:
        meta, ins = read_blob(work, name)
        inputs = [a for t, a in ins if t['key'].startswith('input_')]
        _, arrs = read_blob(work, name + '.out')
        layers = [(t['key'], t['class_name'], t['group'], a) for t, a in arrs]
        if 'fixture' in meta:
            out = os.path.join(REF_DIR, 'fixtures', meta['fixture'] + '.ref.h5')
            extra = {'location': {'models': 'tests/data/models',
                                  'default': 'resources/default'}.get(
                                      meta['where'], '$MIRADA_SHARED_DIR/fixtures/models')}
            write_ref(out, meta['fixture'], 'tfjs-' + tfjs_version, inputs, layers, extra, True)
        else:
            write_ref(os.path.join(REF_DIR, name + '.ref.h5'), name + '.h5',
                      'tfjs-' + tfjs_version, inputs, layers, {}, False)
        print('wrote reference for', name, len(layers), 'layers')


if __name__ == '__main__':
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    if sys.argv[1] == 'models':
        # zoo.py models WORK [MODEL...]: only those zoo models (no fixtures)
        cmd_models(sys.argv[2], sys.argv[3:])
    elif sys.argv[1] == 'fixtures':
        cmd_fixtures(sys.argv[2], sys.argv[3:])
    elif sys.argv[1] == 'refs':
        cmd_refs(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
