// Runs under valgrind for bench/instructions.ts: `warm` requests, then `count` more, one at a time,
// through tensorgate's engine (polling off: spinning would count instructions that depend on timing)
// or onnxruntime-node. Usage: node instructions-driver.mjs <engine|ort-node> <model.onnx> <dims> <warm> <count>
import { createRequire } from 'node:module';

const [system, model, dimsText, warmText, countText] = process.argv.slice(2);
const dims = dimsText.split('x').map(Number);
const shape = [1, ...dims];
const size = dims.reduce((a, b) => a * b, 1);
const data = Float32Array.from({ length: size }, (_, i) => Math.sin(i));
const total = Number(warmText) + Number(countText);

if (system === 'engine') {
  const { Engine } = await import('../dist/engine/index.js');
  const engine = Engine.create({ intraOpThreads: 1, interOpThreads: 1, eventLoopSpinMicroseconds: 0, spinMicroseconds: 0 });
  const m = await engine.load(model, { maxBatchSize: 64, dynamicBatching: true });
  const inputs = { x: { shape, data } };
  for (let i = 0; i < total; i++) await m.infer(inputs);
  await m.unload();
} else {
  const ort = createRequire(import.meta.url)('onnxruntime-node');
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const feeds = { x: new ort.Tensor('float32', data, shape) };
  for (let i = 0; i < total; i++) await session.run(feeds);
}
