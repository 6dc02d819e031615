#!/usr/bin/python3
"""Explanation-map references (see README.md, "Explanation maps").

  explain.py models WORK   write the two explain_* zoo models to
                           tests/data/ref/explain/, and for them, the zoo's
                           sequential_cnn and two fixtures the hand-off files
                           WORK/<name>.json/.bin for run-explain.js
  explain.py refs WORK     turn run-explain.js's gradients (tf.grad) into
                           Grad-CAM, Grad-CAM++, HiResCAM, XGrad-CAM,
                           LayerCAM, CAM, saliency and vanilla-gradient maps
                           (numpy, float64) in tests/data/ref/explain/*.explain.h5
"""

import json
import os
import sys

import h5py
import numpy as np

import zoo
from zoo import Builder, conv_cfg, dense_cfg, pool_cfg

EXPLAIN_DIR = os.path.join(zoo.REF_DIR, 'explain')
CONV_CLASSES = ('Conv2D', 'SeparableConv2D', 'DepthwiseConv2D', 'Convolution2D')


def explain_gap():
    """Conv → pool → conv → GlobalAveragePooling2D → Dense(softmax): CAM applies."""
    b = Builder('explain_gap', 601)
    x = b.input('explain_gap_input', (12, 10, 3))
    y = b('Conv2D', 'ex_conv1', conv_cfg(6, 3, padding='same', activation='relu'), x)
    y = b('MaxPooling2D', 'ex_pool', pool_cfg(2), y)
    y = b('Conv2D', 'ex_conv2', conv_cfg(8, 3, padding='same', activation='relu'), y)
    y = b('GlobalAveragePooling2D', 'ex_gap', {'data_format': 'channels_last'}, y)
    y = b('Dense', 'ex_dense', dense_cfg(4, 'softmax'), y)
    b.output(y)
    return b


def explain_flat():
    """Conv → conv (linear) → Flatten → Dense(softmax): a spatially varying gradient."""
    b = Builder('explain_flat', 602)
    x = b.input('explain_flat_input', (11, 9, 2))
    y = b('Conv2D', 'fl_conv1', conv_cfg(5, 3, activation='relu'), x)
    y = b('Conv2D', 'fl_conv2', conv_cfg(6, 3, padding='same', activation='linear'), y)
    y = b('Flatten', 'fl_flatten', {'data_format': 'channels_last'}, y)
    y = b('Dense', 'fl_dense', dense_cfg(5, 'softmax'), y)
    b.output(y)
    b.sequential = True
    return b


# (model file relative to tests/data, input range)
MODELS = [
    ('ref/explain/explain_gap.h5', (-1, 1)),
    ('ref/explain/explain_flat.h5', (-1, 1)),
    ('ref/sequential_cnn.h5', (-1, 1)),
    ('models/oarriaga__fer2013_mini_XCEPTION.102-0.66.hdf5', (-1, 1)),
    ('models/mlcommons__pretrainedResnet.h5', (0, 1)),
]


def layer_list(cfg):
    c = cfg['config']
    return c['layers'] if isinstance(c, dict) else c


def last_conv(cfg):
    name = None
    for l in layer_list(cfg):
        if l['class_name'] in CONV_CLASSES:
            name = l['config']['name']
    return name


def cmd_models(work):
    os.makedirs(work, exist_ok=True)
    os.makedirs(EXPLAIN_DIR, exist_ok=True)
    for fn in (explain_gap, explain_flat):
        b = fn()
        zoo.write_keras2_h5(os.path.join(EXPLAIN_DIR, b.name + '.h5'), b)
    names = []
    for rel, (lo, hi) in MODELS:
        path = os.path.join(zoo.TOP, 'tests', 'data', rel)
        version, cfg, paths = zoo.read_fixture(path)
        shape = zoo.model_input_shapes(cfg)[0]
        name = os.path.basename(rel)
        rng = np.random.default_rng(31 + len(name))
        x = zoo.make_input(rng, tuple([1] + list(shape)), lo, hi, quantize=True)
        zoo.emit_tfjs(work, name, cfg, paths, [x],
                      {'model': rel, 'layer': last_conv(cfg), 'keras_version': version})
        names.append(name)
    with open(os.path.join(work, 'index.json'), 'w') as f:
        json.dump({'explain': names}, f)


def cam_head(cfg, paths):
    """W (C × classes) for GAP → Dense heads, identity for GAP over one map
    per class, None otherwise (walking back over Activation/Dropout)."""
    layers = layer_list(cfg)
    seq = cfg['class_name'] == 'Sequential'
    by = {l['config']['name']: l for l in layers}

    def prev(l):
        if seq:
            i = layers.index(l)
            return layers[i - 1] if i > 0 else None
        nodes = l.get('inbound_nodes', [])
        if len(nodes) != 1 or len(nodes[0]) != 1:
            return None
        return by[nodes[0][0][0]]

    l = layers[-1] if seq else by[cfg['config']['output_layers'][0][0]]
    while l is not None and l['class_name'] in ('Activation', 'Dropout', 'Softmax'):
        l = prev(l)
    if l is None:
        return None, None
    if l['class_name'] == 'GlobalAveragePooling2D':
        return 'identity', prev(l)['config']['name']
    if l['class_name'] == 'Dense':
        g = prev(l)
        while g is not None and g['class_name'] == 'Dropout':
            g = prev(g)
        if g is not None and g['class_name'] == 'GlobalAveragePooling2D':
            kernel = zoo.layer_weights_by_name(paths)[l['config']['name']][0]
            return kernel.astype(np.float64), prev(g)['config']['name']
    return None, None


def relu_norm(raw):
    m = np.maximum(raw, 0)
    return m / m.max() if m.max() > 1e-12 else np.zeros_like(m)


def cmd_refs(work, version):
    with open(os.path.join(work, 'index.json')) as f:
        index = json.load(f)
    for name in index['explain']:
        meta, ins = zoo.read_blob(work, name)
        x = [a for t, a in ins if t['key'] == 'input_0'][0]
        _, outs = zoo.read_blob(work, name + '.out')
        o = {t['key']: a.astype(np.float64) for t, a in outs}
        A, gA, gX, z = o['A'][0], o['gA'][0], o['gX'][0], o['logits'][0]
        c = int(o['class'][0])
        maps = {}
        maps['gradcam'] = A @ gA.mean(axis=(0, 1))
        g2 = gA ** 2
        g3 = g2 * gA
        alpha = g2 / (2 * g2 + A.sum(axis=(0, 1)) * g3 + 1e-6)
        alpha = np.where(gA != 0, alpha, 0)
        maps['gradcam++'] = A @ (alpha * np.maximum(gA, 0)).sum(axis=(0, 1))
        maps['hirescam'] = (gA * A).sum(axis=-1)
        maps['xgradcam'] = A @ ((gA * A).sum(axis=(0, 1)) / (A.sum(axis=(0, 1)) + 1e-7))
        maps['layercam'] = (np.maximum(gA, 0) * A).sum(axis=-1)
        maps['saliency'] = A.mean(axis=-1)
        maps['gradients'] = np.abs(gX).max(axis=-1)
        _, cfg, paths = zoo.read_fixture(os.path.join(zoo.TOP, 'tests', 'data', meta['model']))
        head, feat = cam_head(cfg, paths)
        if head is not None and feat == meta['layer']:
            maps['cam'] = A[..., c] if isinstance(head, str) else A @ head[:, c]
        path = os.path.join(EXPLAIN_DIR, name + '.explain.h5')
        with h5py.File(path, 'w') as f:
            f.attrs['model'] = meta['model']
            f.attrs['layer'] = meta['layer']
            f.attrs['class'] = c
            f.attrs['reference'] = 'tfjs-' + version
            f.attrs['methods'] = json.dumps(sorted(maps))
            f.create_dataset('input', data=x.astype(np.float32))
            f.create_dataset('logits', data=z.astype(np.float32))
            for m, raw in maps.items():
                if m == 'cam':
                    rng = raw.max() - raw.min()
                    norm = (raw - raw.min()) / rng if rng > 1e-12 else np.zeros_like(raw)
                else:
                    norm = relu_norm(raw)
                f.create_dataset('raw/' + m, data=raw.astype(np.float32))
                f.create_dataset('map/' + m, data=norm.astype(np.float32))
        print('%s: layer %s, class %d, %s' % (name, meta['layer'], c, ', '.join(sorted(maps))))


if __name__ == '__main__':
    if sys.argv[1] == 'models':
        cmd_models(sys.argv[2])
    elif sys.argv[1] == 'refs':
        cmd_refs(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
