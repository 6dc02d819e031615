// Mirada explanation references, TF.js side (see README.md).
//
//   node run-explain.js WORK
//
// For every model explain.py handed over in WORK/index.json: builds it in
// TensorFlow.js from its Keras config, sets its weights, and runs it eagerly
// layer by layer so that a zero tensor δ can be added to the explained
// layer's output A.  The last layer's activation is replaced by the identity
// (class scores before softmax).  tf.grads of z_c (c = the top class) with
// respect to (x, δ) gives dz/dx and dz/dA.  Writes A, dz/dA, dz/dx, the
// logits and c to WORK/<model>.out.json + .bin.
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

function setWeights(model, meta, arrays) {
  for (const l of model.layers) {
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
  }
}

// The graph of a (non-nested) model as [{ layer, inputs: [ids], output: id }].
function graph(model) {
  if (model instanceof tf.Sequential) {
    if (model.model == null)
      model.build();
    model = model.model;
  }
  const nodes = [];
  for (const l of model.layers) {
    if (l instanceof tf.LayersModel)
      throw new Error(`nested model ${l.name} is not supported here`);
    for (let k = 0; k < l.inboundNodes.length; k++) {
      if (!model.containerNodes.has(`${l.name}_ib-${k}`))
        continue;
      const node = l.inboundNodes[k];
      nodes.push({ layer: l, inputs: node.inputTensors.map((t) => t.id),
                   output: node.outputTensors[0].id });
    }
  }
  return { nodes, input: model.inputs[0].id, output: model.outputs[0].id };
}

// z (logits) and A for input x, with δ added to the output of layer @target.
function run(g, target, x, delta) {
  const vals = new Map();
  vals.set(g.input, x);
  let A = null;
  for (const n of g.nodes) {
    if (n.layer.getClassName() === 'InputLayer')
      continue;
    const ins = n.inputs.map((id) => vals.get(id));
    let out = n.layer.apply(ins.length === 1 ? ins[0] : ins, { training: false });
    if (n.layer.name === target) {
      out = tf.add(out, delta);
      A = out;
    }
    vals.set(n.output, out);
  }
  if (A === null)
    throw new Error(`layer ${target} not found`);
  return { z: vals.get(g.output), A };
}

async function runOne(work, name) {
  const { meta, arrays } = readBlob(work, name);
  const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: meta.topology }));
  setWeights(model, meta, arrays);
  const g = graph(model);
  const last = g.nodes[g.nodes.length - 1].layer;
  if (last.activation == null)
    throw new Error(`${name}: the last layer ${last.name} has no activation to remove`);
  last.activation = { apply: (t) => t, getClassName: () => 'linear' };
  const x = arrays.input_0;
  const first = run(g, meta.layer, x, tf.scalar(0));
  const A = first.A;
  const z = first.z;
  const c = z.argMax(-1).dataSync()[0];
  const delta = tf.zerosLike(A);
  const [gX, gA] = tf.grads((xx, dd) => run(g, meta.layer, xx, dd).z.slice([0, c], [1, 1]).sum())(
    [x, delta]);
  const results = [['A', A], ['gA', gA], ['gX', gX], ['logits', z], ['class', tf.tensor1d([c])]];
  const tensors = [];
  const chunks = [];
  let offset = 0;
  for (const [key, v] of results) {
    const data = v.dataSync();
    tensors.push({ key, shape: v.shape, offset });
    chunks.push(Buffer.from(new Float32Array(data).buffer));
    offset += 4 * data.length;
  }
  fs.writeFileSync(path.join(work, name + '.out.bin'), Buffer.concat(chunks));
  fs.writeFileSync(path.join(work, name + '.out.json'), JSON.stringify({ name, tensors }));
  console.log(`tfjs ${tf.version.tfjs}: ${name}: layer ${meta.layer} ${A.shape}, class ${c}`);
}

async function main() {
  const work = process.argv[2];
  const index = JSON.parse(fs.readFileSync(path.join(work, 'index.json'), 'utf8'));
  for (const name of index.explain)
    await runOne(work, name);
  fs.writeFileSync(path.join(work, 'tfjs-version.txt'), tf.version.tfjs);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
