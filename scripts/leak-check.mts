// Exercises the addon's request, batch and unload paths, then exits, for LeakSanitizer to inspect
// (scripts/test-sanitize.sh keeps only leak reports with a frame in tensorgate.node).
import { Engine } from '../src/engine/index.js';
import { mlpModel, tinyModel, identityModel } from '../src/onnx/models.js';
import { ElemType } from '../src/onnx/builder.js';

const engine = Engine.create();
for (let round = 0; round < 3; round++) {
  const tiny = await engine.load(tinyModel(), { maxBatchSize: 64, dynamicBatching: true });
  const mlp = await engine.load(mlpModel({ hidden: [64] }), { maxBatchSize: 8, dynamicBatching: true });
  const strings = await engine.load(identityModel(ElemType.STRING, ['n']));
  const pending: Array<Promise<unknown>> = [];
  for (let i = 0; i < 2000; i++) {
    pending.push(tiny.infer({ x: { shape: [1, 16], data: new Float32Array(16).fill(i) } }));
    if (i % 10 === 0) pending.push(mlp.infer({ x: { shape: [2, 256], data: new Float32Array(512) } }));
    if (i % 100 === 0) pending.push(strings.infer({ x: { shape: [2], data: ['a', 'b'] } }));
  }
  const controller = new AbortController();
  const aborted = tiny.infer({ x: { shape: [1, 16], data: new Float32Array(16) } }, { signal: controller.signal });
  controller.abort();
  pending.push(aborted.catch(() => undefined));
  pending.push(tiny.infer({ x: { shape: [2, 16], data: new Float32Array(3) } }).catch(() => undefined));
  await Promise.all(pending);
  await Promise.all([tiny.unload(), mlp.unload(), strings.unload()]);
}
console.log('leak-check workload done');
