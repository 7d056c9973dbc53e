// ORT runs on the model's runner threads: a long inference never blocks the event loop.
import { describe, expect, it } from 'vitest';
import { slowModel } from '../src/onnx/models.js';
import { testEngine } from './helpers/engine.js';

describe('event loop', () => {
  it('timers keep firing while a 50 ms inference runs: no timer gap comes near its duration', async () => {
    const model = await testEngine().load(slowModel({ ms: 50 }), { intraOpThreads: 1 });
    const x = new Float32Array(512).fill(0.5);
    await model.infer({ x: { shape: [1, 512], data: x } }); // warm-up

    let maxLag = 0;
    let ticks = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxLag = Math.max(maxLag, now - last - 1);
      last = now;
      ticks++;
    }, 1);
    const started = performance.now();
    await model.infer({ x: { shape: [1, 512], data: x } });
    const took = performance.now() - started;
    clearInterval(timer);

    expect(took).toBeGreaterThan(25); // the inference really was long
    expect(ticks).toBeGreaterThan(5); // and timers kept firing meanwhile
    // Relative, not absolute: on a busy machine the OS may delay a 1 ms timer by several ms, but an
    // inference on the event loop would show as one gap as long as the inference itself.
    expect(maxLag).toBeLessThan(took / 3);
  });
});
