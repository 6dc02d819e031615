// Mirada reference generator, TF.js side (see README.md).
//
//   node run-tfjs.js WORK
//
// For every model zoo.py handed over in WORK/index.json: builds the model in
// TensorFlow.js from its Keras config (tf.loadLayersModel on an in-memory IO
// handler), sets every layer's weights (in Keras order), runs it on the fixed
// input and writes the output of every layer, nested models' inner layers
// included, to WORK/<model>.out.json + .bin.
'use strict';

const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

function readBlob(work, name) {
  const meta = JSON.parse(fs.readFileSync(path.join(work, name + '.json'), 'utf8'));
  const buf = fs.readFileSync(path.join(work, name + '.bin'));
  const arrays = {};
  for (const t of meta.tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const bytes = buf.buffer.slice(buf.byteOffset + t.offset, buf.byteOffset + t.offset + 4 * n);
    arrays[t.key] = tf.tensor(new Float32Array(bytes), t.shape, 'float32');
  }
  return { meta, arrays };
}

function isModel(layer) {
  return layer instanceof tf.LayersModel;
}

// Every non-model layer, nested models included.
function leafLayers(model, out = []) {
  for (const l of model.layers) {
    if (isModel(l))
      leafLayers(l, out);
    else
      out.push(l);
  }
  return out;
}

function setWeights(model, meta, arrays) {
  const seen = new Set();
  for (const l of leafLayers(model)) {
    const n = meta.weights[l.name] || 0;
    if (l.weights.length !== n)
      throw new Error(`${meta.name}: layer ${l.name} has ${l.weights.length} weights in TF.js, ` +
                      `${n} in the file`);
    if (n === 0)
      continue;
    const ws = [];
    for (let i = 0; i < n; i++)
      ws.push(arrays[`w:${l.name}:${i}`]);
    l.setWeights(ws);
    seen.add(l.name);
  }
  for (const name of Object.keys(meta.weights))
    if (!seen.has(name))
      throw new Error(`${meta.name}: weights for ${name} match no TF.js layer`);
}

// The graph nodes of @model (layer, output tensor, input tensors) in layer order.
function modelNodes(model) {
  const nodes = [];
  for (const l of model.layers) {
    let ordinal = 0;
    for (let k = 0; k < l.inboundNodes.length; k++) {
      if (!model.containerNodes.has(`${l.name}_ib-${k}`))
        continue;
      const node = l.inboundNodes[k];
      nodes.push({ layer: l, ordinal: ordinal++, output: node.outputTensors[0],
                   inputs: node.inputTensors });
    }
  }
  return nodes;
}

// Appends { name, class_name, group, value } for every layer of @model run on
// @inputValues, recursing into nested models.
function collect(model, inputValues, group, results) {
  if (model instanceof tf.Sequential && model.model == null)
    model.build();  // a top-level Sequential builds its graph lazily
  const nodes = modelNodes(model);
  const wanted = [];
  const want = (t) => {
    let i = wanted.indexOf(t);
    if (i < 0) {
      i = wanted.length;
      wanted.push(t);
    }
    return i;
  };
  for (const n of nodes) {
    if (n.layer.getClassName() === 'InputLayer')
      continue;
    n.outIndex = want(n.output);
    if (isModel(n.layer))
      n.inIndices = n.inputs.map(want);
  }
  let values = tf.model({ inputs: model.inputs, outputs: wanted }).predict(inputValues);
  if (!Array.isArray(values))
    values = [values];
  for (const n of nodes) {
    const name = n.ordinal === 0 ? n.layer.name : `${n.layer.name}#${n.ordinal}`;
    let value;
    if (n.layer.getClassName() === 'InputLayer') {
      const idx = model.inputs.indexOf(n.output);
      if (idx < 0)
        throw new Error(`input layer ${name} is not a model input`);
      value = inputValues[idx];
    } else {
      value = values[n.outIndex];
    }
    results.push({ name, class_name: n.layer.getClassName(), group, value });
    if (isModel(n.layer)) {
      const inner = n.inIndices.map((i) => values[i]);
      collect(n.layer, inner, group ? `${group}/${n.layer.name}` : n.layer.name, results);
    }
  }
}

async function runOne(work, name) {
  const { meta, arrays } = readBlob(work, name);
  const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: meta.topology }));
  setWeights(model, meta, arrays);
  const inputs = [];
  for (let i = 0; i < meta.n_inputs; i++)
    inputs.push(arrays[`input_${i}`]);
  const results = [];
  collect(model, inputs, '', results);

  const tensors = [];
  const chunks = [];
  let offset = 0;
  for (const r of results) {
    const data = r.value.dataSync();
    if (!(data instanceof Float32Array))
      throw new Error(`${name}: ${r.name} is not float32`);
    tensors.push({ key: r.name, class_name: r.class_name, group: r.group,
                   shape: r.value.shape, offset });
    chunks.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    offset += data.byteLength;
  }
  fs.writeFileSync(path.join(work, name + '.out.bin'), Buffer.concat(chunks));
  fs.writeFileSync(path.join(work, name + '.out.json'), JSON.stringify({ name, tensors }));
  console.log(`tfjs ${tf.version.tfjs}: ${name}: ${results.length} layer outputs`);
}

async function main() {
  const work = process.argv[2];
  const index = JSON.parse(fs.readFileSync(path.join(work, 'index.json'), 'utf8'));
  for (const name of index.tfjs.concat(index.fixtures))
    await runOne(work, name);
  fs.writeFileSync(path.join(work, 'tfjs-version.txt'), tf.version.tfjs);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
