// Issue 5, item 7: under continuous load. 32 clients loop acquire -> infer -> release while 20 swaps
// happen (alternately a changed model file in the served version and a new version directory). Every
// version computes x + its own constant, so each answer names the copy that produced it. Required:
// zero failed requests, acquire() never waits, and every answer comes from a copy that was serving
// (served, not yet retired) when the request was accepted and when it was answered.
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/index.js';
import { ModelRepository, type ServedVersion } from '../src/repository/repository.js';
import {
  HookRecorder,
  RecordingLogger,
  WIDTH,
  addConstModel,
  closeRepo,
  onesInput,
  putConfig,
  putModel,
  tempRepo,
} from './helpers/repo-fixtures.js';

const engine = Engine.create({ logger: { warn: () => {} } });
const CLIENTS = 32;
const SWAPS = 20;

/** Responses in columns (a million of them fit in a few tens of MB). */
class Responses {
  readonly generation: number[] = [];
  readonly value: number[] = [];
  readonly tAcquire: number[] = [];
  readonly tAnswer: number[] = [];
  get length(): number {
    return this.generation.length;
  }
  push(generation: number, value: number, tAcquire: number, tAnswer: number): void {
    this.generation.push(generation);
    this.value.push(value);
    this.tAcquire.push(tAcquire);
    this.tAnswer.push(tAnswer);
  }
}

describe.each([
  { mode: 'repo.poll() after each write', pollSeconds: 3600, explicitPoll: true },
  { mode: 'the 0.1 s poller', pollSeconds: 0.1, explicitPoll: false },
])('version swaps under continuous load, noticed by $mode', ({ mode, pollSeconds, explicitPoll }) => {
  const dirs = tempRepo();
  afterAll(() => dirs.cleanup());

  it(`${CLIENTS} clients, ${SWAPS} swaps: zero failed requests, every answer from a serving copy`, async () => {
    const root = dirs.root;
    const recorder = new HookRecorder();
    /** generation -> the constant its model adds. */
    const constantOf = new Map<number, number>();
    let nextConstant = 100;
    const hooks = {
      ...recorder.hooks,
      served: (instance: ServedVersion) => {
        constantOf.set(instance.generation, nextConstant);
        recorder.hooks.served!(instance);
      },
    };
    putModel(root, 'm', 1, addConstModel(nextConstant));
    putConfig(root, 'm', {
      max_batch_size: 16,
      dynamic_batching: { max_queue_delay_microseconds: '0' },
      model_warmup: [{ name: 'w', batch_size: 4, count: 2, inputs: { x: { data_type: 'TYPE_FP32', dims: [WIDTH], random_data: true } } }],
    });
    const log = new RecordingLogger();
    const repo = await ModelRepository.open({ root, engine, controlMode: 'poll', pollSeconds, logger: log, hooks });

    const responses = new Responses();
    const failures: string[] = [];
    let waited = 0;
    let stop = false;
    const input = onesInput();

    const client = async () => {
      while (!stop) {
        let instance: ServedVersion | undefined;
        try {
          const got = repo.acquire('m');
          const tAcquire = performance.now();
          if (got instanceof Promise) {
            waited++;
            instance = await got;
          } else {
            instance = got;
          }
          const out = await instance.model.infer(input);
          const tAnswer = performance.now();
          responses.push(instance.generation, (out.y!.data as Float32Array)[0]! - 1, tAcquire, tAnswer);
        } catch (err) {
          failures.push((err as Error).message);
        } finally {
          if (instance) repo.release(instance);
        }
      }
    };

    const started = performance.now();
    const clients = Array.from({ length: CLIENTS }, client);
    const latencies: number[] = [];
    let version = 1;
    try {
      // Let traffic flow on the first copy.
      await new Promise((r) => setTimeout(r, 50));
      for (let k = 1; k <= SWAPS; k++) {
        const before = recorder.served.length;
        nextConstant = 100 + k;
        const t0 = performance.now();
        if (k % 2 === 1) {
          putModel(root, 'm', version, addConstModel(nextConstant)); // a changed model file
        } else {
          putModel(root, 'm', ++version, addConstModel(nextConstant)); // a new version directory
        }
        if (explicitPoll) await repo.poll();
        const served = await recorder.until(() => recorder.served[before], `swap ${k}`);
        expect(recorder.served.length).toBe(before + 1);
        expect(served.instance.version).toBe(version);
        latencies.push(served.t - t0);
        // Some traffic on each copy before the next swap.
        const count = responses.length;
        await new Promise((r) => setTimeout(r, 30));
        await recorder.until(() => responses.length > count + CLIENTS, `traffic after swap ${k}`);
      }
    } finally {
      stop = true;
      await Promise.all(clients);
    }
    const elapsed = performance.now() - started;
    // Every swapped-out copy drains and unloads.
    await recorder.until(() => recorder.retired.length === SWAPS, 'all old copies retired');
    const servedAt = new Map(recorder.served.map((s) => [s.instance.generation, s.t]));
    const retiredAt = new Map(recorder.retired.map((r) => [r.instance.generation, r.t]));
    const successor = new Map<number, number>();
    recorder.served.forEach((s, i) => {
      const next = recorder.served[i + 1];
      if (next) successor.set(s.instance.generation, next.t);
    });

    let wrongValue = 0;
    let notServing = 0;
    let stale = 0;
    const perGeneration = new Map<number, number>();
    for (let k = 0; k < responses.length; k++) {
      const r = { generation: responses.generation[k]!, value: responses.value[k]!, tAcquire: responses.tAcquire[k]!, tAnswer: responses.tAnswer[k]! };
      perGeneration.set(r.generation, (perGeneration.get(r.generation) ?? 0) + 1);
      if (r.value !== constantOf.get(r.generation)) wrongValue++;
      const s = servedAt.get(r.generation);
      const end = retiredAt.get(r.generation);
      if (s === undefined || s > r.tAcquire || (end !== undefined && end < r.tAnswer)) notServing++;
      // At the moment it was acquired, this copy was the one being served (no successor yet).
      const next = successor.get(r.generation);
      if (next !== undefined && next < r.tAcquire) stale++;
    }
    for (const r of recorder.retired) expect(r.instance.model.accepting).toBe(false);

    const sorted = [...latencies].sort((a, b) => a - b);
    const figures = {
      mode,
      clients: CLIENTS,
      swaps: SWAPS,
      totalRequests: responses.length + failures.length,
      failedRequests: failures.length,
      wrongValue,
      notServing,
      stale,
      acquireWaited: waited,
      versionsServed: recorder.served.length,
      minRequestsPerCopy: Math.min(...perGeneration.values()),
      elapsedMs: Math.round(elapsed),
      requestsPerSecond: Math.round((responses.length / elapsed) * 1000),
      swapLatencyMs: {
        min: +sorted[0]!.toFixed(1),
        median: +sorted[Math.floor(sorted.length / 2)]!.toFixed(1),
        p90: +sorted[Math.floor(sorted.length * 0.9)]!.toFixed(1),
        max: +sorted[sorted.length - 1]!.toFixed(1),
      },
    };
    console.log(`repository swaps under load: ${JSON.stringify(figures)}`);

    expect(failures.slice(0, 5)).toEqual([]);
    expect(wrongValue).toBe(0);
    expect(notServing).toBe(0);
    expect(stale).toBe(0);
    expect(waited).toBe(0);
    expect(recorder.served.length).toBe(SWAPS + 1);
    expect(perGeneration.size).toBe(SWAPS + 1);
    expect(recorder.failures).toEqual([]);
    expect(log.of('error')).toEqual([]);
    expect(repo.index()).toEqual([{ name: 'm', version: String(version), state: 'READY' }]);
    await closeRepo(repo);
  });
});
