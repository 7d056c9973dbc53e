// The pure parts of the pipelines, pinned without threads or servers: the JavaScript models' batching
// policy (Triton's dynamic batcher), the wait-for graph that refuses deadlocking calls, how tensors are
// made ready to cross threads, how model errors keep their kind, and the statistics' histogram buckets.
import { describe, expect, it } from 'vitest';
import { TensorgateError } from '../src/engine/errors.js';
import { toNativeBatching, loadOptionsSchema, parseOptions } from '../src/engine/options.js';
import { nativeBucketBound } from '../src/metrics/native.js';
import { httpStatusFor } from '../src/protocol/errors.js';
import { fromWireError, modelWireError, withContext } from '../src/pipelines/errors.js';
import { BatchQueue, type Queued } from '../src/pipelines/js/batcher.js';
import { bucketOf, StatsRecorder } from '../src/pipelines/stats.js';
import { Arena, ownsBuffer, wireTensor } from '../src/pipelines/tensors.js';
import { GraphTask, WaitGraph, type GraphCall, type GraphPool } from '../src/pipelines/wait-graph.js';

const batching = (options: Record<string, unknown>) => toNativeBatching(parseOptions(loadOptionsSchema, { maxBatchSize: 8, ...options }, 'test'));

let clock = 0;
const req = (rows: number, level = 0, enqueueNs = clock++): Queued & { id: number } => ({ id: clock, rows, level, enqueueNs, deadlineNs: 0, delayOnTimeout: false });

describe('the JavaScript models batcher', () => {
  it('without dynamic batching runs one request per execute', () => {
    const q = new BatchQueue(batching({}));
    q.push(req(1));
    q.push(req(1));
    expect(q.decide(0)).toEqual({ take: 1 });
  });

  it('sends at a preferred size at once, else waits out the delay from the oldest request', () => {
    const q = new BatchQueue(batching({ dynamicBatching: { preferredBatchSize: [4], maxQueueDelayMicroseconds: 1000 } }));
    q.push(req(1, 0, 0));
    q.push(req(2, 0, 10));
    expect(q.decide(100)).toEqual({ wakeAt: 1_000_000 });
    q.push(req(1, 0, 20));
    expect(q.decide(100)).toEqual({ take: 3 }); // 4 rows: the preferred size
    expect(q.take(3).map((r) => r.rows)).toEqual([1, 2, 1]);
    q.push(req(1, 0, 0));
    expect(q.decide(1_000_000)).toEqual({ take: 1 }); // the delay ran out
  });

  it('never passes max_batch_size in rows, and with no delay sends what is there', () => {
    const q = new BatchQueue(batching({ dynamicBatching: {} }));
    for (const rows of [3, 4, 2]) q.push(req(rows));
    expect(q.decide(0)).toEqual({ take: 2 }); // 3 + 4; + 2 would make 9 > 8
  });

  it('serves priority levels in order and maps priorities as the native scheduler does', () => {
    const q = new BatchQueue(batching({ dynamicBatching: { priorityLevels: 3, defaultPriorityLevel: 2 } }));
    expect([q.levelOf(0), q.levelOf(1), q.levelOf(3)]).toEqual([1, 0, 2]);
    expect(() => q.levelOf(4)).toThrow(/priority 4 is outside the model's 1..3 priority levels/);
    const low = req(1, 2);
    const high = req(1, 0);
    q.push(low);
    q.push(high);
    expect(q.take(2)).toEqual([high, low]);
  });

  it('refuses past max_queue_size (QUEUE_FULL) and expires or delays requests at their deadline', () => {
    const q = new BatchQueue(batching({ dynamicBatching: { defaultQueuePolicy: { maxQueueSize: 1, defaultTimeoutMicroseconds: 100 } } }));
    const a = { ...req(1), ...q.deadline(0, 0, 0) };
    q.push(a);
    expect(() => q.push(req(1))).toThrow(expect.objectContaining({ code: 'QUEUE_FULL' }));
    expect(q.nextDeadline()).toBe(100_000);
    expect(q.expire(100_000)).toEqual([a]);
    expect(q.size).toBe(0);
    const d = new BatchQueue(batching({ dynamicBatching: { defaultQueuePolicy: { timeoutAction: 'DELAY', defaultTimeoutMicroseconds: 100 } } }));
    const late = { ...req(1), ...d.deadline(0, 0, 0) };
    d.push(late);
    const onTime = req(1);
    d.push(onTime);
    expect(d.expire(200_000)).toEqual([]);
    expect(d.take(2)).toEqual([onTime, late]); // delayed behind the on-time ones
  });

  it('lets a request shorten its deadline only when the policy allows', () => {
    const strict = new BatchQueue(batching({ dynamicBatching: { defaultQueuePolicy: { defaultTimeoutMicroseconds: 1000, allowTimeoutOverride: false } } }));
    expect(strict.deadline(0, 10, 0).deadlineNs).toBe(1_000_000);
    const open = new BatchQueue(batching({ dynamicBatching: {} }));
    expect(open.deadline(0, 10, 0).deadlineNs).toBe(10_000);
    expect(open.deadline(0, 0, 0).deadlineNs).toBe(0);
  });
});

class Pool implements GraphPool {
  readonly tasks = new Set<GraphTask>();
  constructor(
    readonly label: string,
    readonly workers: number,
  ) {}
  freeSlots(): number {
    return this.workers - this.tasks.size;
  }
  runningTasks(): Iterable<GraphTask> {
    return this.tasks;
  }
  run(): GraphTask {
    const t = new GraphTask(this, `${this.label} task`);
    this.tasks.add(t);
    return t;
  }
}

function graph(...pools: Pool[]): WaitGraph {
  const g = new WaitGraph();
  for (const p of pools) g.register(p);
  return g;
}

const queued = (pool: GraphPool, waiter: GraphTask): GraphCall => {
  const c: GraphCall = { pool, runningIn: undefined };
  waiter.waits.add(c);
  return c;
};

describe('the wait-for graph', () => {
  it('a model calling itself with its only worker busy would wait for ever', () => {
    const a = new Pool('a', 1);
    const t = a.run();
    expect(graph(a).wouldDeadlock(queued(a, t))).toBe(true);
  });

  it('a free worker, or a busy one that can finish, makes the call safe', () => {
    const a = new Pool('a', 2);
    const t = a.run();
    expect(graph(a).wouldDeadlock(queued(a, t))).toBe(false); // the second worker takes it
    const b = new Pool('b', 1);
    b.run(); // busy, waiting on nothing: it finishes, then takes the call
    const c = new Pool('c', 1);
    expect(graph(b, c).wouldDeadlock(queued(b, c.run()))).toBe(false);
  });

  it('two tasks waiting on each other across models are a deadlock, through queued or running calls', () => {
    const ping = new Pool('ping', 1);
    const pong = new Pool('pong', 1);
    const tPing = ping.run();
    const tPong = pong.run();
    const g = graph(ping, pong);
    expect(g.wouldDeadlock(queued(pong, tPing))).toBe(false); // pong's task waits on nothing yet
    expect(g.wouldDeadlock(queued(ping, tPong))).toBe(true);
    const d = new Pool('d', 1);
    const td = d.run();
    const running: GraphCall = { pool: d, runningIn: td };
    const e = new Pool('e', 1);
    const te = e.run();
    te.waits.add(running); // e waits on a call that runs in d, and d waits on nothing
    expect(graph(d, e).wouldDeadlock(queued(e, td))).toBe(true); // now d waits on e: a cycle
  });
});

describe('tensors crossing threads', () => {
  it('moves a buffer the tensor owns, copies a view into a larger one, shares shared memory', () => {
    const transfer = new Set<ArrayBuffer>();
    const owned = new Float32Array([1, 2, 3]);
    expect(ownsBuffer(owned)).toBe(true);
    expect(wireTensor({ shape: [3], data: owned }, true, transfer).data).toBe(owned);
    expect(transfer.has(owned.buffer)).toBe(true);
    const big = new Float32Array(100);
    const view = big.subarray(10, 13);
    const copied = wireTensor({ shape: [3], data: view }, true, transfer).data as Float32Array;
    expect(copied).not.toBe(view);
    expect(copied.buffer.byteLength).toBe(12);
    const notGiven = wireTensor({ shape: [3], data: new Int32Array(3) }, false, transfer).data;
    expect(ownsBuffer(notGiven as Int32Array)).toBe(true);
    const shared = new Float64Array(new SharedArrayBuffer(16));
    expect(wireTensor({ shape: [2], data: shared }, false, new Set()).data).toBe(shared);
  });

  it('packs the small tensors of a message into one arena buffer; large ones keep their own', () => {
    const small = [new Float32Array([1, 2, 3]), new Int8Array([1, 2, 3, 4, 5])];
    const large = new Float32Array(2048);
    const arena = new Arena(Arena.bytesFor([...small, large]));
    expect(arena.buffer.byteLength).toBe(16 + 8); // each small one 8-aligned; the large one not counted
    const transfer = new Set<ArrayBuffer>();
    const placed = small.map((d) => wireTensor({ shape: [d.length], data: d }, true, transfer, arena).data as ArrayBufferView);
    expect(placed.map((p) => p.buffer)).toEqual([arena.buffer, arena.buffer]);
    expect(Array.from(placed[0] as Float32Array)).toEqual([1, 2, 3]);
    expect(Array.from(placed[1] as Int8Array)).toEqual([1, 2, 3, 4, 5]);
    expect(small[0]!.length).toBe(3); // copied, not moved
    expect(wireTensor({ shape: [2048], data: large }, true, transfer, arena).data).toBe(large);
    expect(transfer.has(large.buffer)).toBe(true);
  });

  it('packs BYTES elements into one buffer and keeps strings', () => {
    const transfer = new Set<ArrayBuffer>();
    const t = wireTensor({ datatype: 'BYTES', shape: [3], data: ['a', Buffer.from('bc'), new Uint8Array([1])] }, false, transfer);
    const data = t.data as Array<string | Uint8Array>;
    expect(data[0]).toBe('a');
    expect(Buffer.from(data[1] as Uint8Array).toString()).toBe('bc');
    expect((data[1] as Uint8Array).buffer).toBe((data[2] as Uint8Array).buffer);
    expect(transfer.size).toBe(1);
  });
});

describe('model errors', () => {
  it('keep their kind across threads and steps; a plain error is INTERNAL; code chooses the kind', () => {
    expect(httpStatusFor(fromWireError(modelWireError(new TensorgateError('QUEUE_FULL', 'full'))))).toBe(503);
    expect(httpStatusFor(fromWireError(modelWireError(new Error('boom'))))).toBe(500);
    expect(httpStatusFor(fromWireError(modelWireError(Object.assign(new Error('bad'), { code: 'INVALID_ARGUMENT' }))))).toBe(400);
    expect(httpStatusFor(fromWireError(modelWireError(Object.assign(new Error('fs'), { code: 'ENOENT' }))))).toBe(500);
    expect(modelWireError('a string')).toEqual({ kind: 'INTERNAL', message: 'a string' });
    const wrapped = withContext(new TensorgateError('TIMEOUT', 'late'), "ensemble 'e' step[0] (model 'm')");
    expect(wrapped.message).toBe("ensemble 'e' step[0] (model 'm'): late");
    expect(httpStatusFor(wrapped)).toBe(503);
  });
});

describe('statistics', () => {
  it('histogram buckets are the native ones', () => {
    expect(bucketOf(999)).toBe(0);
    for (const ns of [1000, 1500, 12_345, 9.9e6, 3e9]) {
      const b = bucketOf(ns);
      expect(ns / 1e9).toBeLessThan(nativeBucketBound(b));
      expect(ns / 1e9).toBeGreaterThanOrEqual(nativeBucketBound(b - 1));
    }
  });

  it('count per request and per execution as the engine does', () => {
    const s = new StatsRecorder(4);
    s.accepted();
    s.accepted();
    s.queued(10);
    s.queued(20);
    s.executed(2, 3, 5, 100, 7);
    s.succeeded(200);
    s.failed(300, new TensorgateError('TIMEOUT', 'late'));
    s.refused(new TensorgateError('QUEUE_FULL', 'full'));
    const snap = s.snapshot();
    expect(snap).toMatchObject({ pending: 0, inferenceCount: 3, executionCount: 1, success: { count: 1, ns: 200 }, fail: { count: 1, ns: 300 }, queue: { count: 2, ns: 30 } });
    expect(snap.failures).toMatchObject({ timeout: 1, queueFull: 1 });
    expect(snap.computeInfer).toEqual({ count: 2, ns: 200 });
    expect(snap.batches).toEqual([{ batchSize: 3, executions: 1, computeInput: { count: 1, ns: 5 }, computeInfer: { count: 1, ns: 100 }, computeOutput: { count: 1, ns: 7 } }]);
  });
});
