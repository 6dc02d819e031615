// Mirada reference generator for tests/test-formats.c (TF.js side).
//
//   NODE_PATH=... node make-formats-tfjs.js OUTDIR [SHARED_FIXTURES_DIR]
//
// 1. Builds a small Sequential CNN in TF.js (seeded initialisers), saves it
//    with an in-memory handler and writes it as TF.js layers models in four
//    weight encodings: float32 over two shards, uint8 and uint16 quantized
//    (value = q * scale + min) and float16.  Each folder gets ref.json: the
//    output TF.js itself computes after loading that exact model.json + shards
//    (tf.io.decodeWeights dequantizes), on a fixed input.
// 2. For the Teachable Machine fixture (not in the repository), writes the
//    TF.js output on a fixed 224x224 input to OUTDIR/tm_image_model.ref.json.
// Inputs: x[i] = ((i * 37) % 256) / 127.5 - 1 (flat NHWC index i).
'use strict';

const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

function input(shape) {
  const n = shape.reduce((a, b) => a * b, 1);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++)
    a[i] = ((i * 37) % 256) / 127.5 - 1;
  return tf.tensor(a, shape);
}

function f16bits(v) {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  let exp = ((u >>> 23) & 0xff) - 127 + 15;
  let mant = u & 0x7fffff;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant = (mant | 0x800000) >> (1 - exp);
    return sign | ((mant + 0x1000) >> 13);
  }
  if (exp >= 31) return sign | 0x7c00;
  let h = sign | (exp << 10) | (mant >> 13);
  if (mant & 0x1000) h += 1; // round half up
  return h;
}

function encode(values, kind) {
  let min = Infinity, max = -Infinity;
  for (const v of values) { if (v < min) min = v; if (v > max) max = v; }
  if (kind === 'float32')
    return { bytes: Buffer.from(new Float32Array(values).buffer), quant: null };
  if (kind === 'float16') {
    const u = new Uint16Array(values.length);
    values.forEach((v, i) => { u[i] = f16bits(v); });
    return { bytes: Buffer.from(u.buffer), quant: { dtype: 'float16' } };
  }
  const levels = kind === 'uint8' ? 255 : 65535;
  const scale = max > min ? (max - min) / levels : 1;
  const q = kind === 'uint8' ? new Uint8Array(values.length) : new Uint16Array(values.length);
  values.forEach((v, i) => { q[i] = Math.round((v - min) / scale); });
  return { bytes: Buffer.from(q.buffer), quant: { dtype: kind, scale, min } };
}

async function small(outdir) {
  const model = tf.sequential({ name: 'small' });
  const init = (s) => tf.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed: s });
  model.add(tf.layers.conv2d({ name: 'conv', inputShape: [8, 8, 3], filters: 4, kernelSize: 3,
    activation: 'relu', kernelInitializer: init(1), biasInitializer: init(2) }));
  model.add(tf.layers.batchNormalization({ name: 'bn', gammaInitializer: init(3),
    betaInitializer: init(4), movingMeanInitializer: init(5),
    movingVarianceInitializer: tf.initializers.constant({ value: 1.3 }) }));
  model.add(tf.layers.depthwiseConv2d({ name: 'dw', kernelSize: 3, padding: 'same',
    depthwiseInitializer: init(6), biasInitializer: init(7) }));
  model.add(tf.layers.globalAveragePooling2d({ name: 'gap' }));
  model.add(tf.layers.dense({ name: 'head', units: 3, activation: 'softmax',
    kernelInitializer: init(8), biasInitializer: init(9) }));
  let art;
  await model.save(tf.io.withSaveHandler(async (a) => { art = a; return { modelArtifactsInfo: {} }; }));
  const data = new Float32Array(art.weightData);
  for (const kind of ['float32', 'uint8', 'uint16', 'float16']) {
    const dir = path.join(outdir, 'tfjs-' + kind);
    fs.mkdirSync(dir, { recursive: true });
    let off = 0;
    const specs = [];
    const chunks = [];
    for (const s of art.weightSpecs) {
      const n = s.shape.reduce((a, b) => a * b, 1);
      const e = encode(Array.from(data.slice(off, off + n)), kind);
      off += n;
      const spec = { name: s.name, shape: s.shape, dtype: 'float32' };
      if (e.quant) spec.quantization = e.quant;
      specs.push(spec);
      chunks.push(e.bytes);
    }
    const all = Buffer.concat(chunks);
    const half = kind === 'float32' ? Math.floor(all.length / 2) : all.length;
    const paths = half < all.length ? ['group1-shard1of2.bin', 'group1-shard2of2.bin']
                                    : ['group1-shard1of1.bin'];
    fs.writeFileSync(path.join(dir, paths[0]), all.subarray(0, half));
    if (paths.length > 1) fs.writeFileSync(path.join(dir, paths[1]), all.subarray(half));
    const json = { format: 'layers-model', generatedBy: 'TensorFlow.js tfjs-layers v4.22.0',
      modelTopology: art.modelTopology, weightsManifest: [{ paths, weights: specs }] };
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
    const ab = all.buffer.slice(all.byteOffset, all.byteOffset + all.length);
    const m = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: art.modelTopology,
      weightSpecs: specs, weightData: ab }));
    const y = m.predict(input([2, 8, 8, 3]));
    fs.writeFileSync(path.join(dir, 'ref.json'), JSON.stringify({
      reference: 'tfjs-4.22.0', input: '((i*37)%256)/127.5-1', shape: y.shape,
      output: Array.from(y.dataSync()) }));
  }
}

async function tm(outdir, shared) {
  const dir = path.join(shared, 'traumverloren__tm_image_model');
  if (!fs.existsSync(dir)) { console.log('TM fixture absent: skipped'); return; }
  const mj = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const bin = fs.readFileSync(path.join(dir, 'weights.bin'));
  const specs = [].concat(...mj.weightsManifest.map((g) => g.weights));
  const m = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: mj.modelTopology,
    weightSpecs: specs, weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length) }));
  const y = m.predict(input([1, 224, 224, 3]));
  fs.writeFileSync(path.join(outdir, 'tm_image_model.ref.json'), JSON.stringify({
    reference: 'tfjs-4.22.0', input: '((i*37)%256)/127.5-1', shape: y.shape,
    output: Array.from(y.dataSync()) }));
}

(async () => {
  const out = process.argv[2];
  await small(out);
  if (process.argv[3]) await tm(out, process.argv[3]);
})();
