#!/usr/bin/python3
"""Reference data for tests/test-keras-loader.c, computed with h5py.

Run from the source root:  /usr/bin/python3 tests/gen/keras-loader-data.py
(MayurJr__model_cifar10.h5 is read from $MIRADA_SHARED_DIR/fixtures/models or
../shared/fixtures/models; it is not copied into the repository.)

Writes into tests/data/models/:
  expected.json      per model file: node count, parameter totals, input and
                     output shapes, and per (layer, weight index) the shape,
                     sum and sum of squares of the stored values;
  fer2013_weights_only.h5   model_weights of the mini-XCEPTION fixture copied
                     to the root of a file without model_config (what
                     save_weights() writes);
  fer2013_config.json       that fixture's model_config;
  tiny_*.h5          small hand-made files for the forms the fixtures lack
                     (float16/float64 weights, byte-array and fixed-length
                     attributes, Keras 2.0 bare-list Sequential, chunked
                     layer_names, shared layers, two inputs and outputs,
                     Keras 3 nested weights, unknown layers, a wrong shape).

The counts are independent of the C loader: parameters are the sizes of the
datasets the file lists in weight_names; trainable = all minus BatchNormalization
moving statistics minus the weights of layers or nested models configured
with "trainable": false; nodes are the layer calls (inbound nodes, one per
Sequential entry) of every non-model layer, nested InputLayers excluded (they
are bound to the outer tensor), plus one node per model input.
"""
import json
import os
import shutil
import sys

import h5py
import numpy as np

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
OUT = os.path.join(SRC, 'tests', 'data', 'models')
SHARED = os.environ.get('MIRADA_SHARED_DIR', os.path.join(SRC, '..', 'shared'))
MODEL_CLASSES = ('Sequential', 'Functional', 'Model')


def s(v):
    if isinstance(v, bytes):
        return v.decode('utf-8')
    if isinstance(v, np.ndarray) and v.dtype == np.uint8:
        return v.tobytes().decode('utf-8')
    if isinstance(v, np.void):
        return v.tobytes().decode('utf-8')
    return str(v)


def attr_list(group, name):
    if name in group.attrs:
        return [s(x) for x in group.attrs[name]]
    out, i = [], 0
    while '%s%d' % (name, i) in group.attrs:
        out += [s(x) for x in group.attrs['%s%d' % (name, i)]]
        i += 1
    return out


def layers_of(entry):
    cfg = entry['config']
    return cfg if isinstance(cfg, list) else cfg['layers']


def name_of(entry):
    return entry.get('name') or entry['config'].get('name')


def count_nodes(entry, nested):
    """Node count of a model entry: leaf calls, + inputs when not nested."""
    seq = entry['class_name'] == 'Sequential'
    n = 0
    for i, l in enumerate(layers_of(entry)):
        calls = 1 if seq else len(l.get('inbound_nodes') or [])
        if l['class_name'] == 'InputLayer':
            n += 0 if nested else 1
        elif l['class_name'] in MODEL_CLASSES:
            n += calls * count_nodes(l, True)
        else:
            if seq and i == 0 and not nested:
                n += 1  # implicit input from batch_input_shape
            n += calls
    return n


def frozen_names(entry, frozen, out):
    for l in layers_of(entry):
        fz = frozen or l['config'].get('trainable') is False if isinstance(l['config'], dict) else frozen
        if l['class_name'] in MODEL_CLASSES:
            frozen_names(l, fz, out)
        elif fz:
            out.add(name_of(l))


def top_entries(config):
    return {name_of(l): l for l in layers_of(config)}


def input_shape(config):
    for l in layers_of(config):
        c = l['config']
        for k in ('batch_input_shape', 'batch_shape'):
            if k in c:
                return [-1 if d is None else d for d in c[k]]
        if l['class_name'] in MODEL_CLASSES:
            return input_shape(l)
    raise SystemExit('no input shape')


def describe(path, n_outputs_dims=None):
    f = h5py.File(path, 'r')
    config = json.loads(s(f.attrs['model_config'])) if 'model_config' in f.attrs else None
    mw = f['model_weights'] if 'model_weights' in f else f
    tops = top_entries(config) if config else {}
    frozen = set()
    if config:
        frozen_names(config, config['config'].get('trainable') is False
                     if isinstance(config['config'], dict) else False, frozen)
    total = trainable = 0
    weights = []
    last_kernel = None
    for lname in attr_list(mw, 'layer_names'):
        g = mw[lname]
        wnames = attr_list(g, 'weight_names')
        nested = lname in tops and tops[lname]['class_name'] in MODEL_CLASSES
        per_layer = {}
        for wn in wnames:
            # The loader converts to float32: compare with the float32 values.
            d = np.asarray(g[wn]).astype(np.float32).astype(np.float64)
            owner = wn.split('/')[-2] if nested else lname
            idx = per_layer.get(owner, 0)
            per_layer[owner] = idx + 1
            total += d.size
            short = wn.split('/')[-1].split(':')[0]
            if not (short in ('moving_mean', 'moving_variance') or owner in frozen):
                trainable += d.size
            if 'kernel' in short:
                last_kernel = d.shape
            weights.append({'layer': owner, 'index': idx, 'shape': list(d.shape),
                             'sum': float(d.sum()), 'sumsq': float((d * d).sum())})
    out = {'params': total, 'trainable': trainable, 'weights': weights}
    if config:
        out['nodes'] = count_nodes(config, False)
        out['input_shape'] = input_shape(config)
        out['output_last_dim'] = int(last_kernel[-1])
        out['keras_version'] = s(f.attrs.get('keras_version', b''))
    return out


# ---------------------------------------------------------------- tiny files

def write_attr_bytes(obj, name, text):
    obj.attrs.create(name, np.frombuffer(text.encode(), dtype=np.uint8))


def tiny_f16():
    """Keras 2.0 bare-list Sequential, implicit input, float16 kernel,
    float64 bias, model_config as a byte array, fixed-length strings."""
    path = os.path.join(OUT, 'tiny_f16.h5')
    cfg = {'class_name': 'Sequential', 'config': [
        {'class_name': 'Dense', 'config': {'name': 'd1', 'units': 3, 'activation': 'relu',
                                           'use_bias': True, 'batch_input_shape': [None, 4]}},
        {'class_name': 'Dense', 'config': {'name': 'd2', 'units': 2, 'activation': 'softmax',
                                           'use_bias': True}}]}
    rng = np.random.default_rng(1)
    with h5py.File(path, 'w') as f:
        write_attr_bytes(f, 'model_config', json.dumps(cfg))
        f.attrs['keras_version'] = np.bytes_('2.0.8')
        f.attrs['backend'] = np.bytes_('tensorflow')
        mw = f.create_group('model_weights')
        mw.attrs['layer_names'] = np.array([b'd1', b'd2'], dtype='S2')
        g = mw.create_group('d1')
        g.attrs['weight_names'] = np.array([b'd1/kernel:0', b'd1/bias:0'])
        g['d1/kernel:0'] = rng.uniform(-1, 1, (4, 3)).astype(np.float16)
        g['d1/bias:0'] = rng.uniform(-1, 1, (3,)).astype(np.float64)
        g = mw.create_group('d2')
        g.attrs['weight_names'] = np.array([b'd2_1/kernel:0', b'd2_1/bias:0'])
        g['d2_1/kernel:0'] = rng.uniform(-1, 1, (3, 2)).astype(np.float32)
        g['d2_1/bias:0'] = rng.uniform(-1, 1, (2,)).astype(np.float32)
    return path


def vlen(lst):
    return np.array(lst, dtype=h5py.string_dtype())


def tiny_shared():
    """Functional (tf.keras 2.x form): two inputs, a shared Dense called on
    both, Add, two outputs; layer_names split into layer_names0/1; vlen
    strings."""
    path = os.path.join(OUT, 'tiny_shared.h5')
    def inb(*refs):
        return [[[r, n, 0, {}] for r, n in refs]]
    layers = [
        {'class_name': 'InputLayer', 'name': 'a', 'inbound_nodes': [],
         'config': {'name': 'a', 'batch_input_shape': [None, 5], 'dtype': 'float32'}},
        {'class_name': 'InputLayer', 'name': 'b', 'inbound_nodes': [],
         'config': {'name': 'b', 'batch_input_shape': [None, 5], 'dtype': 'float32'}},
        {'class_name': 'Dense', 'name': 'shared',
         'config': {'name': 'shared', 'units': 4, 'activation': 'linear', 'use_bias': True},
         'inbound_nodes': inb(('a', 0)) + inb(('b', 0))},
        {'class_name': 'Add', 'name': 'add', 'config': {'name': 'add'},
         'inbound_nodes': [[['shared', 0, 0, {}], ['shared', 1, 0, {}]]]},
        {'class_name': 'Dense', 'name': 'head', 'config': {'name': 'head', 'units': 3,
                                                             'activation': 'softmax'},
         'inbound_nodes': inb(('add', 0))},
    ]
    cfg = {'class_name': 'Functional', 'config': {
        'name': 'twin', 'layers': layers,
        'input_layers': [['a', 0, 0], ['b', 0, 0]],
        'output_layers': [['head', 0, 0], ['shared', 1, 0]]}}
    rng = np.random.default_rng(2)
    with h5py.File(path, 'w') as f:
        f.attrs['model_config'] = json.dumps(cfg)  # vlen str
        f.attrs['keras_version'] = '2.15.0'
        f.attrs['backend'] = 'tensorflow'
        mw = f.create_group('model_weights')
        mw.attrs['layer_names0'] = vlen(['a', 'b', 'shared'])
        mw.attrs['layer_names1'] = vlen(['add', 'head'])
        for name, shapes in (('a', []), ('b', []), ('add', []),
                             ('shared', [(5, 4), (4,)]), ('head', [(4, 3), (3,)])):
            g = mw.create_group(name)
            wn = ['%s/%s:0' % (name, k) for k in ('kernel', 'bias')][:len(shapes)]
            g.attrs['weight_names'] = vlen(wn) if wn else np.zeros((0,), dtype=np.float32)
            for w, shp in zip(wn, shapes):
                g[w] = rng.uniform(-1, 1, shp).astype(np.float32)
    return path


def k3_tensor(name):
    return {'class_name': '__keras_tensor__',
            'config': {'shape': [None, 6], 'dtype': 'float32', 'keras_history': [name, 0, 0]}}


def dtype_policy():
    return {'module': 'keras', 'class_name': 'DTypePolicy', 'config': {'name': 'float32'},
            'registered_name': None}


def tiny_keras3():
    """Keras 3 form: Functional with __keras_tensor__ inbound nodes, a
    Sequential nested inside (frozen), weights one group deeper."""
    path = os.path.join(OUT, 'tiny_keras3.h5')
    inner = {'module': 'keras', 'class_name': 'Sequential', 'registered_name': None,
             'name': 'inner',
             'config': {'name': 'inner', 'trainable': False, 'dtype': dtype_policy(), 'layers': [
                 {'module': 'keras.layers', 'class_name': 'InputLayer', 'registered_name': None,
                  'config': {'batch_shape': [None, 6], 'dtype': 'float32', 'name': 'inner_in'}},
                 {'module': 'keras.layers', 'class_name': 'Dense', 'registered_name': None,
                  'config': {'name': 'dense_a', 'units': 5, 'activation': 'relu',
                             'use_bias': True, 'dtype': dtype_policy()}},
                 {'module': 'keras.layers', 'class_name': 'Dense', 'registered_name': None,
                  'config': {'name': 'dense_b', 'units': 4, 'activation': 'linear',
                             'use_bias': False, 'dtype': dtype_policy()}}]},
             'inbound_nodes': [{'args': [k3_tensor('x')], 'kwargs': {}}]}
    layers = [
        {'module': 'keras.layers', 'class_name': 'InputLayer', 'registered_name': None,
         'name': 'x', 'config': {'batch_shape': [None, 6], 'dtype': 'float32', 'name': 'x'},
         'inbound_nodes': []},
        inner,
        {'module': 'keras.layers', 'class_name': 'Dense', 'registered_name': None,
         'name': 'out', 'config': {'name': 'out', 'units': 2, 'activation': 'sigmoid',
                                   'dtype': dtype_policy()},
         'inbound_nodes': [{'args': [dict(k3_tensor('inner'),
                                          config={'shape': [None, 4], 'dtype': 'float32',
                                                  'keras_history': ['inner', 0, 0]})],
                            'kwargs': {}}]},
    ]
    cfg = {'module': 'keras', 'class_name': 'Functional', 'registered_name': 'Functional',
           'config': {'name': 'k3', 'trainable': True, 'layers': layers,
                      'input_layers': ['x', 0, 0], 'output_layers': ['out', 0, 0]}}
    rng = np.random.default_rng(3)
    with h5py.File(path, 'w') as f:
        f.attrs['model_config'] = json.dumps(cfg)
        f.attrs['keras_version'] = '3.8.0'
        f.attrs['backend'] = 'jax'
        mw = f.create_group('model_weights')
        mw.attrs['layer_names'] = vlen(['inner', 'out'])
        g = mw.create_group('inner')
        wn = ['k3/inner/dense_a/kernel', 'k3/inner/dense_a/bias', 'k3/inner/dense_b/kernel']
        g.attrs['weight_names'] = vlen(wn)
        for w, shp in zip(wn, [(6, 5), (5,), (5, 4)]):
            g[w] = rng.uniform(-1, 1, shp).astype(np.float32)
        g = mw.create_group('out')
        wn = ['k3/out/kernel', 'k3/out/bias']
        g.attrs['weight_names'] = vlen(wn)
        for w, shp in zip(wn, [(4, 2), (2,)]):
            g[w] = rng.uniform(-1, 1, shp).astype(np.float32)
    return path


def tiny_bad():
    """Files that must fail: a Lambda layer, a made-up class, a kernel of the
    wrong shape, an HDF5 file without model_config nor weights."""
    def seq(second):
        return {'class_name': 'Sequential', 'config': {'name': 'bad', 'layers': [
            {'class_name': 'InputLayer', 'config': {'name': 'in', 'batch_input_shape': [None, 3]}},
            second]}}
    for fname, layer in (
            ('tiny_lambda.h5', {'class_name': 'Lambda',
                                'config': {'name': 'my_lambda', 'function': ['4wEAAAAA', None, None],
                                           'function_type': 'lambda'}}),
            ('tiny_madeup.h5', {'class_name': 'FancyCapsule', 'config': {'name': 'capsule_1'}})):
        with h5py.File(os.path.join(OUT, fname), 'w') as f:
            f.attrs['model_config'] = json.dumps(seq(layer))
            f.attrs['keras_version'] = '2.4.0'
            f.attrs['backend'] = 'tensorflow'
            mw = f.create_group('model_weights')
            mw.attrs['layer_names'] = vlen([])
    with h5py.File(os.path.join(OUT, 'tiny_badshape.h5'), 'w') as f:
        f.attrs['model_config'] = json.dumps(seq(
            {'class_name': 'Dense', 'config': {'name': 'dense', 'units': 2}}))
        f.attrs['keras_version'] = '2.4.0'
        f.attrs['backend'] = 'tensorflow'
        mw = f.create_group('model_weights')
        mw.attrs['layer_names'] = vlen(['dense'])
        g = mw.create_group('dense')
        g.attrs['weight_names'] = vlen(['dense/kernel:0', 'dense/bias:0'])
        g['dense/kernel:0'] = np.zeros((4, 2), np.float32)  # needs (3, 2)
        g['dense/bias:0'] = np.zeros((2,), np.float32)
    with h5py.File(os.path.join(OUT, 'tiny_noconfig.h5'), 'w') as f:
        f.attrs['note'] = 'an HDF5 file that is not a Keras model'


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    fixtures = {
        'oarriaga__fer2013_mini_XCEPTION.102-0.66.hdf5': os.path.join(OUT, 'oarriaga__fer2013_mini_XCEPTION.102-0.66.hdf5'),
        'mlcommons__pretrainedResnet.h5': os.path.join(OUT, 'mlcommons__pretrainedResnet.h5'),
        '963n__keras_model.h5': os.path.join(OUT, '963n__keras_model.h5'),
        'MayurJr__model_cifar10.h5': os.path.join(SHARED, 'fixtures', 'models',
                                                  'MayurJr__model_cifar10.h5'),
    }
    for key, path in fixtures.items():
        expected[key] = describe(path)

    fer = fixtures['oarriaga__fer2013_mini_XCEPTION.102-0.66.hdf5']
    with h5py.File(fer, 'r') as src, \
            h5py.File(os.path.join(OUT, 'fer2013_weights_only.h5'), 'w') as dst:
        mw = src['model_weights']
        for k, v in mw.attrs.items():
            dst.attrs[k] = v
        for name in mw:
            src.copy(mw[name], dst, name=name)
        with open(os.path.join(OUT, 'fer2013_config.json'), 'w') as j:
            j.write(s(src.attrs['model_config']))
    expected['fer2013_weights_only.h5'] = describe(os.path.join(OUT, 'fer2013_weights_only.h5'))

    for fn in (tiny_f16, tiny_shared, tiny_keras3):
        p = fn()
        expected[os.path.basename(p)] = describe(p)
    tiny_bad()

    # Hand counts for the hand-made files, as a check on the counter above.
    assert expected['tiny_shared.h5']['nodes'] == 6     # a, b, shared, shared_1, add, head
    assert expected['tiny_shared.h5']['params'] == 5 * 4 + 4 + 4 * 3 + 3
    assert expected['tiny_keras3.h5']['trainable'] == 4 * 2 + 2  # inner is frozen
    assert expected['tiny_keras3.h5']['nodes'] == 4     # x, dense_a, dense_b, out
    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        json.dump(expected, f, indent=1, sort_keys=True)
    for k, v in expected.items():
        print(k, {x: v[x] for x in v if x != 'weights'})


if __name__ == '__main__':
    main()
