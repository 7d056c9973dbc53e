// The dynamic batcher, Triton's semantics: batches form while runners are busy, rows count fully,
// shapes never mix, preferred sizes and the queue delay, priorities, queue limits, timeouts (REJECT
// and DELAY), aborts and unload drain. Results are compared bit for bit with unbatched runs.
import { describe, expect, it } from 'vitest';
import { TensorgateError, type InferOutputs, type LoadOptions, type Model } from '../src/engine/index.js';
import { slowBatchModel, transformerEncoderModel } from '../src/onnx/models.js';
import { examplePath, testEngine } from './helpers/engine.js';
import { occupy, rows, settleOrder, SLOW_SIZE, until } from './helpers/batching.js';

const f32 = (out: InferOutputs, name = 'y') => out[name]!.data as Float32Array;

async function rejection(p: Promise<unknown>): Promise<TensorgateError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TensorgateError);
  return err as TensorgateError;
}

// One ORT thread for the slow model: on a 2-core machine the event loop keeps a core of its own,
// so the test observes the queue while the runner is busy.
const slowModel = (options: LoadOptions = {}): Promise<Model> =>
  testEngine().load(slowBatchModel({ ms: 15, size: SLOW_SIZE }), { intraOpThreads: 1, ...options });

describe('batch formation', () => {
  it('batches concurrent requests and each result equals the unbatched result bit for bit', async () => {
    const single = await testEngine().load(examplePath('mlp'));
    const batched = await testEngine().load(examplePath('mlp'), { maxBatchSize: 64, dynamicBatching: true });
    const xs = Array.from({ length: 400 }, (_, k) => Float32Array.from({ length: 256 }, (_, i) => Math.sin(k * 31 + i)));
    const expected: Float32Array[] = [];
    for (const x of xs) expected.push(f32(await single.infer({ x: { shape: [1, 256], data: x } })));
    const got = await Promise.all(xs.map((x) => batched.infer({ x: { shape: [1, 256], data: x } })));
    got.forEach((out, k) => expect(Buffer.from(f32(out).buffer, f32(out).byteOffset, 64)).toEqual(Buffer.from(expected[k]!.buffer)));
    const stats = batched.stats();
    expect(stats.inferenceCount).toBe(400);
    expect(stats.executionCount).toBeLessThan(400);
    expect(Math.max(...stats.batches.map((b) => b.batchSize))).toBeGreaterThan(1);
    expect(stats.batches.every((b) => b.batchSize <= 64)).toBe(true);
    expect(stats.batches.reduce((n, b) => n + b.batchSize * b.executions, 0)).toBe(400);
  });

  it('counts a request carrying its own batch dimension fully and never exceeds max_batch_size', async () => {
    const model = await slowModel({ maxBatchSize: 8, dynamicBatching: true });
    const { running: blocker } = await occupy(model);
    const three = [1, 2, 3].map((k) => model.infer({ x: { shape: [3, SLOW_SIZE], data: rows(3, k) } }));
    const outs = await Promise.all([blocker, ...three]);
    outs.slice(1).forEach((out, k) => {
      expect(out.y!.shape).toEqual([3, SLOW_SIZE]);
      expect(f32(out).every((v) => v === k + 1)).toBe(true);
    });
    // 3 + 3 fits in 8, the third 3 would make 9: batches of 1 (blocker), 6, 3.
    expect(model.stats().batches.map((b) => [b.batchSize, b.executions])).toEqual([
      [1, 1],
      [3, 1],
      [6, 1],
    ]);
    const err = await rejection(model.infer({ x: { shape: [9, SLOW_SIZE], data: rows(9) } }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe('batch size 9 exceeds the model\'s max_batch_size 8');
  });

  it('never merges requests whose non-batch dimensions differ', async () => {
    const bytes = transformerEncoderModel();
    const single = await testEngine().load(bytes);
    const batched = await testEngine().load(bytes, { maxBatchSize: 16, dynamicBatching: true });
    const inputs = Array.from({ length: 120 }, (_, k) => {
      const seq = k % 3 === 0 ? 5 : 3;
      return { seq, x: Float32Array.from({ length: seq * 64 }, (_, i) => Math.cos(k + i * 0.1)) };
    });
    const expected: Float32Array[] = [];
    for (const { seq, x } of inputs) expected.push(f32(await single.infer({ x: { shape: [1, seq, 64], data: x } })));
    const got = await Promise.all(inputs.map(({ seq, x }) => batched.infer({ x: { shape: [1, seq, 64], data: x } })));
    got.forEach((out, k) => {
      expect(out.y!.shape).toEqual([1, inputs[k]!.seq, 64]);
      expect(Array.from(f32(out))).toEqual(Array.from(expected[k]!));
    });
    const stats = batched.stats();
    expect(stats.executionCount).toBeLessThan(120);
    expect(stats.inferenceCount).toBe(120);
  });

  it('sends at a preferred batch size without waiting for the queue delay', async () => {
    const model = await testEngine().load(examplePath('tiny'), {
      maxBatchSize: 8,
      dynamicBatching: { preferredBatchSize: [4], maxQueueDelayMicroseconds: 2_000_000 },
    });
    const started = performance.now();
    await Promise.all([1, 2, 3, 4].map(() => model.infer({ x: { shape: [1, 16], data: new Float32Array(16) } })));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(model.stats().batches.map((b) => [b.batchSize, b.executions])).toEqual([[4, 1]]);
  });

  it('waits max_queue_delay from the oldest request, then sends what is there', async () => {
    const model = await testEngine().load(examplePath('tiny'), {
      maxBatchSize: 8,
      dynamicBatching: { preferredBatchSize: [4], maxQueueDelayMicroseconds: 150_000 },
    });
    const started = performance.now();
    await Promise.all([1, 2, 3].map(() => model.infer({ x: { shape: [1, 16], data: new Float32Array(16) } })));
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(140);
    expect(took).toBeLessThan(1500);
    expect(model.stats().batches.map((b) => [b.batchSize, b.executions])).toEqual([[3, 1]]);
  });

  it('runs a model without dynamic batching one request per execution', async () => {
    const model = await testEngine().load(examplePath('tiny'), { maxBatchSize: 8 });
    await Promise.all(Array.from({ length: 20 }, () => model.infer({ x: { shape: [2, 16], data: new Float32Array(32) } })));
    expect(model.stats().executionCount).toBe(20);
    expect(model.stats().inferenceCount).toBe(40);
  });
});

describe('priorities', () => {
  it('runs higher-priority requests first, in arrival order within a level', async () => {
    const model = await slowModel({ maxBatchSize: 1, dynamicBatching: { priorityLevels: 2, defaultPriorityLevel: 2 } });
    const { running: blocker } = await occupy(model);
    const x = { x: { shape: [1, SLOW_SIZE], data: rows(1) } };
    const order = settleOrder({
      low1: model.infer(x),
      low2: model.infer(x, { priority: 2 }),
      high1: model.infer(x, { priority: 1 }),
      low3: model.infer(x),
      high2: model.infer(x, { priority: 1 }),
    });
    await blocker;
    expect(await order).toEqual(['high1', 'high2', 'low1', 'low2', 'low3']);
  });

  it('rejects a priority outside the configured levels', async () => {
    const model = await slowModel({ maxBatchSize: 1, dynamicBatching: { priorityLevels: 2, defaultPriorityLevel: 1 } });
    const err = await rejection(model.infer({ x: { shape: [1, SLOW_SIZE], data: rows(1) } }, { priority: 3 }));
    expect(err.message).toBe("priority 3 is outside the model's 1..2 priority levels");
  });
});

describe('admission and failure', () => {
  it('rejects with QUEUE_FULL at once when the level queue is full', async () => {
    const model = await slowModel({ maxBatchSize: 1, dynamicBatching: { defaultQueuePolicy: { maxQueueSize: 2 } } });
    const { running: blocker } = await occupy(model);
    const x = { x: { shape: [1, SLOW_SIZE], data: rows(1) } };
    const accepted = [model.infer(x), model.infer(x)];
    const full = model.infer(x);
    const err = await rejection(full);
    expect(err.code).toBe('QUEUE_FULL');
    expect(err.message).toBe('queue of priority level 1 is full (max_queue_size 2)');
    expect(model.stats().pending).toBe(3); // the blocker and two queued: the rejection came first
    await Promise.all([blocker, ...accepted]);
    await model.infer(x); // room again
    expect(model.stats().failures.queueFull).toBe(1);
  });

  it('applies max_queue_size per priority level', async () => {
    const model = await slowModel({
      maxBatchSize: 1,
      dynamicBatching: { priorityLevels: 2, defaultPriorityLevel: 2, priorityQueuePolicy: { '1': { maxQueueSize: 1 } } },
    });
    const { running: blocker } = await occupy(model);
    const x = { x: { shape: [1, SLOW_SIZE], data: rows(1) } };
    const high = model.infer(x, { priority: 1 });
    expect((await rejection(model.infer(x, { priority: 1 }))).code).toBe('QUEUE_FULL');
    const lows = [model.infer(x), model.infer(x), model.infer(x)]; // level 2 is unbounded
    await Promise.all([blocker, high, ...lows]);
  });

  it('rejects with TIMEOUT a request whose queue timeout runs out (REJECT), without running it', async () => {
    const model = await slowModel({ maxBatchSize: 1, dynamicBatching: true });
    const { running: blocker } = await occupy(model);
    const x = { x: { shape: [1, SLOW_SIZE], data: rows(1) } };
    const late = model.infer(x, { timeoutUs: 2000 });
    const onTime = model.infer(x);
    const err = await rejection(late);
    expect(err.code).toBe('TIMEOUT');
    await Promise.all([blocker, onTime]);
    const stats = model.stats();
    expect(stats.failures.timeout).toBe(1);
    expect(stats.inferenceCount).toBe(2);
  });

  it('uses the policy default timeout, and ignores request timeouts unless overrides are allowed', async () => {
    // The blocker is subject to the same default timeout: it must be taken before it expires even on
    // a loaded machine (100 ms), and must run longer than that so that `a` expires behind it (400 ms).
    const model = await testEngine().load(slowBatchModel({ ms: 400, size: SLOW_SIZE }), {
      intraOpThreads: 1,
      maxBatchSize: 1,
      dynamicBatching: { defaultQueuePolicy: { defaultTimeoutMicroseconds: 100_000, allowTimeoutOverride: false } },
    });
    const { running: blocker } = await occupy(model);
    const x = { x: { shape: [1, SLOW_SIZE], data: rows(1) } };
    const a = model.infer(x, { timeoutUs: 60_000_000 }); // cannot extend the default
    expect((await rejection(a)).code).toBe('TIMEOUT');
    await blocker;
  });

  it('moves a timed-out request behind on-time work with timeout_action DELAY', async () => {
    const model = await slowModel({
      maxBatchSize: 1,
      dynamicBatching: { defaultQueuePolicy: { timeoutAction: 'DELAY' } },
    });
    const { running: blocker } = await occupy(model);
    const x = { x: { shape: [1, SLOW_SIZE], data: rows(1) } };
    const order = settleOrder({
      delayed: model.infer(x, { timeoutUs: 1000 }),
      b: model.infer(x),
      c: model.infer(x),
    });
    await blocker;
    expect(await order).toEqual(['b', 'c', 'delayed']);
    expect(model.stats().failures.timeout).toBe(0);
  });

  it('drops an aborted queued request without running it and rejects it at once', async () => {
    const model = await slowModel({ maxBatchSize: 4, dynamicBatching: true });
    const { running: blocker } = await occupy(model);
    const controller = new AbortController();
    const aborted = model.infer({ x: { shape: [1, SLOW_SIZE], data: rows(1) } }, { signal: controller.signal });
    const kept = model.infer({ x: { shape: [1, SLOW_SIZE], data: rows(1) } });
    controller.abort(new Error('client went away'));
    const err = await rejection(aborted);
    expect(err.code).toBe('ABORTED');
    expect(err.message).toBe('inference aborted: client went away');
    expect(model.stats().inferenceCount).toBe(0); // rejected while the blocker still runs
    await Promise.all([blocker, kept]);
    await until(() => model.stats().failures.cancelled === 1);
    expect(model.stats().inferenceCount).toBe(2);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const model = await testEngine().load(examplePath('tiny'));
    const err = await rejection(
      model.infer({ x: { shape: [1, 16], data: new Float32Array(16) } }, { signal: AbortSignal.abort() }),
    );
    expect(err.code).toBe('ABORTED');
    expect(model.stats().pending).toBe(0);
  });

  it('on unload completes every accepted request and refuses new ones', async () => {
    const model = await slowModel({ maxBatchSize: 2, dynamicBatching: true });
    const { running: blocker } = await occupy(model);
    const queued = Array.from({ length: 10 }, (_, k) => model.infer({ x: { shape: [1, SLOW_SIZE], data: rows(1, k) } }));
    const unloaded = model.unload();
    expect((await rejection(model.infer({ x: { shape: [1, SLOW_SIZE], data: rows(1) } }))).code).toBe('UNAVAILABLE');
    const outs = await Promise.all(queued);
    outs.forEach((out, k) => expect(f32(out)[0]).toBe(k));
    await blocker;
    await unloaded;
    const stats = model.stats();
    expect(stats.success.count).toBe(11);
    expect(stats.pending).toBe(0);
  });

  // A batch waiting for a long max_queue_delay used to hold an unload for the whole delay: an aborted
  // request stayed queued until its batch would have been sent, and a live one waited out the delay
  // although nothing could join it any more. The delay here (10 min) is far past the test's timeout.
  it('unloads at once with an aborted request waiting for a long queue delay', async () => {
    const model = await testEngine().load(examplePath('tiny'), { maxBatchSize: 8, dynamicBatching: { maxQueueDelayMicroseconds: 600_000_000 } });
    const abort = new AbortController();
    const aborted = model.infer({ x: { shape: [1, 16], data: new Float32Array(16) } }, { signal: abort.signal });
    await until(() => model.stats().pending === 1);
    await new Promise((r) => setTimeout(r, 50)); // the scheduler has decided to wait for the delay
    abort.abort();
    expect((await rejection(aborted)).code).toBe('ABORTED');
    await until(() => model.stats().pending === 0); // dropped by the scheduler now, not in 10 minutes
    expect(model.stats().failures.cancelled).toBe(1);
    await model.unload();
  }, 20_000);

  it('on unload sends what waits for a long queue delay instead of waiting it out', async () => {
    const model = await testEngine().load(examplePath('tiny'), { maxBatchSize: 8, dynamicBatching: { maxQueueDelayMicroseconds: 600_000_000 } });
    const queued = [1, 2, 3].map((k) => model.infer({ x: { shape: [1, 16], data: new Float32Array(16).fill(k) } }));
    await until(() => model.stats().pending === 3);
    expect(model.stats().executionCount).toBe(0);
    await model.unload();
    const outs = await Promise.all(queued);
    outs.forEach((out, k) => expect(f32(out)[0]).toBe(k + 2)); // tiny: x + 1
    expect(model.stats().batches.map((b) => [b.batchSize, b.executions])).toEqual([[3, 1]]);
  }, 20_000);
});
