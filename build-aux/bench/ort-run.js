// ort-run.js MODEL.onnx INPUT.raw SHAPE(a,b,c,d) OUTPUT.raw THREADS RUNS
// Times ONNX Runtime (CPU) on one input: a warm-up run, then the median of
// RUNS runs; writes the output as raw float32 and prints JSON.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, input, shapeArg, output, threadsArg, runsArg] = process.argv.slice(2);
  const threads = parseInt(threadsArg, 10);
  const runs = parseInt(runsArg, 10);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const buf = fs.readFileSync(input);
  const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const shape = shapeArg.split(',').map((d) => parseInt(d, 10));
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, shape) };
  let out = await session.run(feeds);
  const times = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    out = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  times.sort((a, b) => a - b);
  const n = times.length;
  const median = n % 2 ? times[(n - 1) / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
  const y = out[session.outputNames[0]].data;
  fs.writeFileSync(output, Buffer.from(y.buffer, y.byteOffset, y.byteLength));
  process.stdout.write(JSON.stringify({ median_seconds: median }) + '\n');
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
