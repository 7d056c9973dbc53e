// Admission control over HTTP and gRPC: a request that cannot start before its deadline is refused at
// once (503 + Retry-After; gRPC UNAVAILABLE with retry-after) instead of queueing; the deadline is the
// model's queue policy where its config sets one, else the server's --default-request-timeout, and a
// request's own `timeout` may only lower it; --max-queue-size bounds models without max_queue_size;
// --admission off turns refusals off. Slow models (~50 ms a run whatever the batch, one row per
// batch) make the queue arithmetic visible: with the engine's measured cost of 50 ms a row, a
// request with k rows ahead of it is predicted to wait k x 50 ms.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveOptionsSchema } from '../src/cli/options.js';
import { admissionDeadlineUs, ModelLoad } from '../src/inference/admission.js';
import { modelConfigSchema } from '../src/repository/config-schema.js';
import { failure } from './helpers/grpc-client.js';
import { serveGrpc, slowGrpcRequest, type GrpcTestServer } from './helpers/grpc-server.js';
import { encodeInferRequest } from './helpers/grpc-client.js';
import { makeRepository, ONE_THREAD, post, serve, slowModelBytes, slowRequest, until, type HttpResult, type TestServer, DEFAULT_ENGINE } from './helpers/http-server.js';

const RUN_MS = 50;
const ONE_ROW = { max_batch_size: 1, parameters: ONE_THREAD };
const root = makeRepository({
  slow: { bytes: slowModelBytes(RUN_MS), config: ONE_ROW },
  slow100: { bytes: slowModelBytes(100), config: ONE_ROW },
  // A queue policy without a timeout: Triton's rules, no deadline at all (the server default does not apply).
  slow_policy_none: { bytes: slowModelBytes(RUN_MS), config: { ...ONE_ROW, dynamic_batching: { default_queue_policy: { max_queue_size: 0 } } } },
  // A queue policy with its own 30 ms timeout that requests may not raise or lower.
  slow_policy_30: {
    bytes: slowModelBytes(RUN_MS),
    config: { ...ONE_ROW, dynamic_batching: { default_queue_policy: { default_timeout_microseconds: 30_000 } } },
  },
  slow_bounded: { bytes: slowModelBytes(RUN_MS), config: { ...ONE_ROW, dynamic_batching: { default_queue_policy: { max_queue_size: 8 } } } },
});

interface Timed {
  r: HttpResult;
  ms: number;
}

function send(port: number, model: string, body = slowRequest(1)): Promise<Timed> {
  const t0 = performance.now();
  return post(port, `/v2/models/${model}/infer`, body).then((r) => ({ r, ms: performance.now() - t0 }));
}

/** One request first, so the engine's cost per row is measured; then `n` at once. */
async function burst(port: number, model: string, n: number, body?: string): Promise<Timed[]> {
  expect((await send(port, model, body)).r.status).toBe(200);
  return Promise.all(Array.from({ length: n }, () => send(port, model, body)));
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('admission with the server default deadline', () => {
  let server: TestServer;
  let port: number;
  const DEFAULT_MS = serveOptionsSchema.parse({ modelRepository: '.' }).defaultRequestTimeout;

  beforeAll(async () => {
    // The default as shipped: 50 ms (passed explicitly: the test helper turns it off for other tests).
    expect(DEFAULT_MS).toBe(50);
    server = await serve(DEFAULT_ENGINE, { modelRepository: root, defaultRequestTimeout: DEFAULT_MS });
    port = server.port;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('under overload, what cannot start within the deadline is refused at once with 503 + Retry-After', async () => {
    const results = await burst(port, 'slow', 24);
    const admitted = results.filter((t) => t.r.status === 200);
    const refused = results.filter((t) => t.r.status === 503);
    expect(admitted.length + refused.length).toBe(24);
    // 0 and 1 rows ahead (0 and 50 ms) fit the 50 ms deadline; a request completing meanwhile may let one more in.
    expect(admitted.length).toBeGreaterThanOrEqual(1);
    expect(admitted.length).toBeLessThanOrEqual(4);
    for (const t of refused) {
      expect(t.r.headers['retry-after']).toBe('1');
      expect(t.r.json().error).toMatch(/^model 'slow' is overloaded: the predicted queue wait \(\d+\.\d ms\) exceeds the request's deadline \(50 ms\)/);
    }
    // At once: the refusals come back faster than one model run, the admitted ones after at least one.
    expect(median(refused.map((t) => t.ms))).toBeLessThan(Math.min(...admitted.map((t) => t.ms)));
    // Nothing refused reached the engine: it ran the warm-up and the admitted requests only.
    expect(server.model('slow').stats().success.count).toBe(1 + admitted.length);
  });

  it("a request's own timeout lowers the deadline, never raises it", async () => {
    // A 100 ms model with one request in the engine (its count of accepted requests says so, whatever the
    // machine's speed): the next is predicted to wait >= 100 ms, more only under contention.
    const model = server.model('slow100');
    // Boxed: an async function returning a promise would wait for it.
    const oneAhead = async (): Promise<{ done: Promise<Timed> }> => {
      const done = send(port, 'slow100');
      await until(() => model.stats().pending >= 1, 'one request in the engine');
      return { done };
    };
    // Nothing ahead: a request asking for 10 s is admitted.
    expect((await send(port, 'slow100', slowRequest(1, { timeout: 10_000_000 }))).r.status).toBe(200);
    let ahead = await oneAhead();
    const lower = await send(port, 'slow100', slowRequest(1, { timeout: 5_000 }));
    expect(lower.r.status).toBe(503);
    expect(lower.r.json().error).toMatch(/deadline \(5 ms\)/);
    expect((await ahead.done).r.status).toBe(200);
    // Asking for 10 s does not lift the 50 ms default.
    ahead = await oneAhead();
    const capped = await send(port, 'slow100', slowRequest(1, { timeout: 10_000_000 }));
    expect(capped.r.status).toBe(503);
    expect(capped.r.json().error).toMatch(/deadline \(50 ms\)/);
    expect((await ahead.done).r.status).toBe(200);
  });

  it("a model's queue policy replaces the server default: no timeout means no refusal", async () => {
    const results = await burst(port, 'slow_policy_none', 6);
    expect(results.map((t) => t.r.status)).toEqual(new Array(6).fill(200));
  });

  it("a model's queue policy timeout is the deadline (here 30 ms, below the server's 50)", async () => {
    const results = await burst(port, 'slow_policy_30', 6);
    const refused = results.filter((t) => t.r.status === 503);
    expect(refused.length).toBeGreaterThanOrEqual(4);
    expect(refused[0]!.r.json().error).toMatch(/deadline \(30 ms\)/);
  });
});

describe('--max-queue-size and --admission off', () => {
  let server: TestServer;
  let port: number;

  beforeAll(async () => {
    server = await serve('node', { modelRepository: root, defaultRequestTimeout: 0, maxQueueSize: 2 });
    port = server.port;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('bounds the requests in flight per model version without max_queue_size (503, the limit named)', async () => {
    const results = await Promise.all(Array.from({ length: 6 }, () => send(port, 'slow')));
    const full = results.filter((t) => t.r.status === 503);
    expect(results.filter((t) => t.r.status === 200)).toHaveLength(2);
    expect(full).toHaveLength(4);
    expect(full[0]!.r.json().error).toBe("model 'slow' has 2 requests in flight (the server's --max-queue-size); retry later");
    expect(full[0]!.r.headers['retry-after']).toBe('1');
  });

  it("a model with its own max_queue_size keeps Triton's bound instead", async () => {
    const results = await Promise.all(Array.from({ length: 6 }, () => send(port, 'slow_bounded')));
    expect(results.map((t) => t.r.status)).toEqual(new Array(6).fill(200));
  });

  it('--admission off: nothing is refused before the engine', async () => {
    const off = await serve('node', { modelRepository: root, defaultRequestTimeout: 50, admission: 'off' });
    try {
      const results = await burst(off.port, 'slow', 6);
      expect(results.map((t) => t.r.status)).toEqual(new Array(6).fill(200));
    } finally {
      await off.stop();
    }
  });
});

describe('admission over gRPC', () => {
  let server: GrpcTestServer;

  beforeAll(async () => {
    server = await serveGrpc({ modelRepository: root, defaultRequestTimeout: 50 });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('a refusal is UNAVAILABLE with the message and a retry-after trailer', async () => {
    await server.client.infer(slowGrpcRequest('slow', 1));
    const calls = Array.from({ length: 8 }, () => failure(server.client.raw('ModelInfer', encodeInferRequest(slowGrpcRequest('slow', 1)))).catch(() => undefined));
    const errors = (await Promise.all(calls.map((c) => c.then((e) => e, () => undefined)))).filter((e) => e !== undefined);
    expect(errors.length).toBeGreaterThanOrEqual(4);
    for (const err of errors) {
      expect(err!.code).toBe(14);
      expect(err!.details).toMatch(/is overloaded/);
      expect(err!.metadata.get('retry-after')).toEqual(['1']);
    }
  });
});

describe('the admission arithmetic (pure)', () => {
  const parse = (config: object) => modelConfigSchema.parse(config);

  it('predicts the rows ahead at the engine-measured cost per row, over the instances', () => {
    const load = new ModelLoad(parse({ instance_group: [{ count: 2, kind: 'KIND_CPU' }] }));
    expect(load.instances).toBe(2);
    load.enter(1);
    expect(load.predictedWaitNs()).toBe(0); // nothing measured yet: everything is admitted
    load.leave(1, 4e6, 4); // a batch of 4 rows took 4 ms: 1 ms a row
    expect(load.costPerRowNs).toBe(1e6);
    for (let i = 0; i < 6; i++) load.enter(i % 2 === 0 ? 1 : 3);
    expect(load.inflightRows).toBe(12);
    expect(load.predictedWaitNs()).toBe((12 * 1e6) / 2);
    // Requests that never ran (refused, timed out, cache hits) do not move the cost.
    load.leave(1, 0, 0);
    expect(load.costPerRowNs).toBe(1e6);
  });

  it("settles the deadline with Triton's rules where a policy is set, else the server default", () => {
    const none = new ModelLoad(parse({})).policy;
    expect(admissionDeadlineUs(none, 0, 0, 50_000)).toBe(50_000);
    expect(admissionDeadlineUs(none, 0, 10_000, 50_000)).toBe(10_000);
    expect(admissionDeadlineUs(none, 0, 90_000, 50_000)).toBe(50_000);
    expect(admissionDeadlineUs(none, 0, 90_000, 0)).toBe(90_000);
    const fixed = new ModelLoad(parse({ max_batch_size: 4, dynamic_batching: { default_queue_policy: { default_timeout_microseconds: 30_000 } } })).policy;
    expect(admissionDeadlineUs(fixed, 0, 10_000, 50_000)).toBe(30_000); // override not allowed (Triton's default)
    const overridable = new ModelLoad(
      parse({ max_batch_size: 4, dynamic_batching: { default_queue_policy: { default_timeout_microseconds: 30_000, allow_timeout_override: true } } }),
    ).policy;
    expect(admissionDeadlineUs(overridable, 0, 10_000, 50_000)).toBe(10_000);
    expect(admissionDeadlineUs(overridable, 0, 40_000, 50_000)).toBe(30_000);
    const levels = new ModelLoad(
      parse({
        max_batch_size: 4,
        dynamic_batching: { priority_levels: 2, default_priority_level: 2, priority_queue_policy: { '1': { default_timeout_microseconds: 5_000 } } },
      }),
    ).policy;
    expect(admissionDeadlineUs(levels, 1, 0, 50_000)).toBe(5_000);
    expect(admissionDeadlineUs(levels, 2, 0, 50_000)).toBe(0); // level 2 has no policy of its own: none
  });
});
