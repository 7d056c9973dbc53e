// Issue 5, item 3: zero-downtime updates. A new version directory, a changed model file or a changed
// config loads and warms a new instance in the background, switches to it atomically, and drains the
// old one before unloading it. A broken update is rejected while the old copy keeps answering, and
// the failure shows in index(), hooks.loadFailed and the log. The version policy decides what serves.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/index.js';
import { RepositoryError } from '../src/repository/errors.js';
import { ModelRepository, type ServedVersion } from '../src/repository/repository.js';
import {
  HookRecorder,
  RecordingLogger,
  WIDTH,
  acquire,
  addConstModel,
  caught,
  closeRepo,
  onesInput,
  putConfig,
  putModel,
  slowAddConstModel,
  tempRepo,
} from './helpers/repo-fixtures.js';

const engine = Engine.create({ logger: { warn: () => {} } });

/** Warmup that keeps a slowAddConstModel busy for `count` runs before it may serve. */
const warmup = (count: number) => ({
  model_warmup: [{ name: 'ones', batch_size: 1, count, inputs: { x: { data_type: 'TYPE_FP32', dims: [WIDTH], zero_data: true } } }],
});

const valueOf = (out: Awaited<ReturnType<ServedVersion['model']['infer']>>) => (out.y!.data as Float32Array)[0]! - 1;

/**
 * Samples the request path on every macrotask while `work` runs: acquire() must always hand out an
 * instance synchronously (no promise, no throw), and every sampled instance must answer correctly.
 */
async function sampleWhile(repo: ModelRepository, name: string, work: Promise<unknown>, expected: (i: ServedVersion) => number) {
  let done = false;
  void work.finally(() => (done = true)).catch(() => undefined);
  const seen = new Map<number, number>(); // generation -> samples
  const answers: Array<Promise<void>> = [];
  let samples = 0;
  while (!done) {
    const i = repo.acquire(name);
    expect(i).not.toBeInstanceOf(Promise);
    expect(repo.ready()).toBe(true);
    const instance = i as ServedVersion;
    seen.set(instance.generation, (seen.get(instance.generation) ?? 0) + 1);
    if (samples++ % 4 === 0) {
      answers.push(
        instance.model.infer(onesInput()).then(
          (out) => {
            expect(valueOf(out)).toBe(expected(instance));
            repo.release(instance);
          },
          (err) => {
            repo.release(instance);
            throw err;
          },
        ),
      );
    } else {
      repo.release(instance);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await work;
  await Promise.all(answers);
  return { samples, seen };
}

describe('zero-downtime updates', () => {
  let dirs: ReturnType<typeof tempRepo>;
  let hooks: HookRecorder;
  let log: RecordingLogger;
  let repo: ModelRepository;
  /** The constant each generation adds. */
  const constant = new Map<number, number>();

  beforeEach(async () => {
    dirs = tempRepo();
    hooks = new HookRecorder();
    log = new RecordingLogger();
    constant.clear();
    putModel(dirs.root, 'm', 1, slowAddConstModel(1));
    putConfig(dirs.root, 'm', warmup(3));
    repo = await ModelRepository.open({ root: dirs.root, engine, controlMode: 'poll', pollSeconds: 3600, logger: log, hooks: hooks.hooks });
    constant.set(repo.served('m')[0]!.generation, 1);
  });
  afterEach(async () => {
    await closeRepo(repo);
    dirs.cleanup();
  });

  /** Applies `change`, polls, and checks the whole swap from the old instance to the new one. */
  async function swap(change: () => void, newConstant: number) {
    const old = repo.served('m')[0]!;
    // A request in flight on the old instance, holding its lease across the swap.
    const held = await acquire(repo, 'm');
    expect(held).toBe(old);
    const inflight = held.model.infer(onesInput());
    const t0 = performance.now();
    change();
    const polling = repo.poll();
    const sampled = sampleWhile(repo, 'm', polling, (i) => constant.get(i.generation) ?? (constant.set(i.generation, newConstant), newConstant));
    // While the new copy loads and warms up, the old one serves and the server stays ready (sampled).
    const { samples, seen } = await sampled;
    const fresh = repo.served('m')[0]!;
    expect(fresh).not.toBe(old);
    expect(samples).toBeGreaterThan(0);
    expect([...seen.keys()].every((g) => g === old.generation || g === fresh.generation)).toBe(true);
    // Warmed before it served: 3 warmup runs, all before hooks.served.
    const servedAt = hooks.served.find((s) => s.instance === fresh)!;
    expect(servedAt.t).toBeGreaterThan(t0);
    expect(fresh.model.stats().inferenceCount).toBeGreaterThanOrEqual(3);
    // The old copy still accepts while a lease is held: its in-flight request completes, and even a
    // request submitted after the swap on the leased instance is answered.
    expect(old.model.accepting).toBe(true);
    expect(valueOf(await inflight)).toBe(constant.get(old.generation));
    expect(valueOf(await held.model.infer(onesInput()))).toBe(constant.get(old.generation));
    expect(old.model.accepting).toBe(true);
    expect(hooks.retired.some((r) => r.instance === old)).toBe(false);
    const released = performance.now();
    repo.release(held);
    const retired = await hooks.retiredOf(old);
    expect(retired.t).toBeGreaterThanOrEqual(released);
    expect(retired.t).toBeGreaterThan(servedAt.t);
    expect(old.model.accepting).toBe(false);
    // New requests get the new copy.
    const now = await acquire(repo, 'm');
    expect(now).toBe(fresh);
    expect(valueOf(await now.model.infer(onesInput()))).toBe(newConstant);
    repo.release(now);
    return { old, fresh };
  }

  it('a new version directory', async () => {
    const { fresh } = await swap(() => putModel(dirs.root, 'm', 2, slowAddConstModel(2)), 2);
    expect(fresh.version).toBe(2);
    // The new version was LOADING (and the old READY) until it was served.
    const states = hooks.states.filter((s) => s.name === 'm').map((s) => `${s.version}:${s.state}`);
    expect(states.slice(states.indexOf('2:LOADING'))).toEqual(['2:LOADING', '2:READY', '1:UNAVAILABLE']);
    expect(repo.index()).toEqual([{ name: 'm', version: '2', state: 'READY' }]);
  });

  it('a changed model file', async () => {
    const { old, fresh } = await swap(() => putModel(dirs.root, 'm', 1, slowAddConstModel(5)), 5);
    expect(fresh.version).toBe(1);
    expect(fresh.contentHash).not.toBe(old.contentHash);
    expect(repo.index()).toEqual([{ name: 'm', version: '1', state: 'READY' }]);
  });

  it('a changed config', async () => {
    const { old, fresh } = await swap(() => putConfig(dirs.root, 'm', { max_batch_size: 2, ...warmup(4) }), 1);
    expect(fresh.version).toBe(1);
    expect(fresh.model.metadata.maxBatchSize).toBe(2);
    expect(old.model.metadata.maxBatchSize).toBe(64);
    expect(fresh.model.stats().inferenceCount).toBeGreaterThanOrEqual(4);
  });

  it('the old copy is not unloaded while a slow request is still running on it', async () => {
    const old = repo.served('m')[0]!;
    const held = await acquire(repo, 'm');
    putModel(dirs.root, 'm', 2, slowAddConstModel(2, 5));
    putConfig(dirs.root, 'm', warmup(1));
    await repo.poll();
    expect(repo.served('m')[0]!.version).toBe(2);
    expect(old.model.accepting).toBe(true);
    // Slow requests still running on the old copy when its last lease goes: unload completes them.
    let settled = 0;
    const runs = Array.from({ length: 4 }, () =>
      held.model.infer(onesInput()).then(
        (out) => (settled++, valueOf(out)),
        (err: Error) => (settled++, err.message),
      ),
    );
    repo.release(held);
    expect(settled).toBe(0);
    const retired = await hooks.retiredOf(old);
    expect(await Promise.all(runs)).toEqual([1, 1, 1, 1]);
    expect(retired.instance).toBe(old);
    expect(old.model.accepting).toBe(false);
  });

  it('a broken new version is rejected; the old one keeps answering; the failure shows everywhere', async () => {
    const old = repo.served('m')[0]!;
    const good = slowAddConstModel(2);
    putModel(dirs.root, 'm', 2, good.subarray(0, Math.floor(good.length / 2))); // truncated
    await repo.poll();
    expect(repo.served('m')).toEqual([old]);
    const i = await acquire(repo, 'm');
    expect(i).toBe(old);
    expect(valueOf(await i.model.infer(onesInput()))).toBe(1);
    repo.release(i);
    expect(old.model.accepting).toBe(true);
    expect(repo.ready()).toBe(true);

    const failure = hooks.failures.find((f) => f.name === 'm' && f.version === '2');
    expect(failure).toBeDefined();
    expect(failure!.reason).toMatch(/^cannot load model '.*\/m\/2\/model\.onnx': /);
    expect(repo.index()).toEqual([
      { name: 'm', version: '1', state: 'READY' },
      { name: 'm', version: '2', state: 'UNAVAILABLE', reason: failure!.reason },
    ]);
    const logged = log.of('error').find((e) => e.fields.model === 'm' && e.fields.version === '2');
    expect(logged).toEqual({ level: 'error', fields: { model: 'm', version: '2', err: failure!.reason }, message: 'model load failed' });

    // Fixing the file swaps it in.
    putModel(dirs.root, 'm', 2, good);
    await repo.poll();
    expect(repo.served('m').map((s) => s.version)).toEqual([2]);
    expect(repo.index()).toEqual([{ name: 'm', version: '2', state: 'READY' }]);
    await hooks.retiredOf(old);
  });

  it('a broken change to the served version keeps the loaded copy and says why', async () => {
    const old = repo.served('m')[0]!;
    writeFileSync(join(dirs.root, 'm', '1', 'model.onnx'), slowAddConstModel(3).subarray(0, 100));
    await repo.poll();
    expect(repo.served('m')).toEqual([old]);
    const i = await acquire(repo, 'm');
    expect(valueOf(await i.model.infer(onesInput()))).toBe(1);
    repo.release(i);
    const failure = hooks.failures.find((f) => f.name === 'm' && f.version === '1');
    expect(failure).toBeDefined();
    expect(repo.index()).toEqual([
      { name: 'm', version: '1', state: 'READY', reason: `a changed copy failed to load and was not swapped in: ${failure!.reason}` },
    ]);
    expect(log.of('error').some((e) => e.fields.model === 'm' && e.message === 'reload failed; the loaded copy keeps serving')).toBe(true);
    expect(repo.ready()).toBe(true);
  });

  it('a broken config change keeps the loaded copy, and index() says why', async () => {
    const old = repo.served('m')[0]!;
    putConfig(dirs.root, 'm', { max_batch_size: 'lots' });
    await repo.poll();
    expect(repo.served('m')).toEqual([old]);
    const i = await acquire(repo, 'm');
    expect(valueOf(await i.model.infer(onesInput()))).toBe(1);
    repo.release(i);
    const failure = hooks.failures.find((f) => f.name === 'm');
    expect(failure?.reason).toMatch(/^m\/config\.json: max_batch_size: /);
    expect(log.of('error').some((e) => e.fields.model === 'm' && e.message === 'invalid model configuration')).toBe(true);
    const entries = repo.index().filter((e) => e.name === 'm');
    expect(entries.some((e) => e.reason?.includes(failure!.reason))).toBe(true);
  });
});

describe('version policy', () => {
  it('decides which versions serve, and a request for another version is NOT_FOUND', async () => {
    const dirs = tempRepo();
    const hooks = new HookRecorder();
    for (const v of [1, 2, 3]) putModel(dirs.root, 'm', v, addConstModel(v));
    const repo = await ModelRepository.open({ root: dirs.root, engine, controlMode: 'poll', pollSeconds: 3600, logger: new RecordingLogger(), hooks: hooks.hooks });
    try {
      const versions = () => repo.served('m').map((i) => i.version);
      const answer = async (version?: string) => {
        const i = await acquire(repo, 'm', version);
        try {
          return valueOf(await i.model.infer(onesInput()));
        } finally {
          repo.release(i);
        }
      };
      expect(versions()).toEqual([3]);
      expect(await answer()).toBe(3);

      putConfig(dirs.root, 'm', { version_policy: { all: {} } });
      await repo.poll();
      expect(versions()).toEqual([3, 2, 1]);
      expect([await answer('1'), await answer('2'), await answer('3'), await answer()]).toEqual([1, 2, 3, 3]);

      putConfig(dirs.root, 'm', { version_policy: { specific: { versions: [1] } } });
      await repo.poll();
      expect(versions()).toEqual([1]);
      expect(await answer()).toBe(1);
      expect(repo.index()).toEqual([{ name: 'm', version: '1', state: 'READY' }]);

      for (const version of ['7', '3']) {
        const err = await caught(() => repo.acquire('m', version));
        expect(err).toBeInstanceOf(RepositoryError);
        expect(err.code).toBe('NOT_FOUND');
        expect(err.message).toBe(`model 'm' has no served version ${version} (served: 1)`);
      }
      const bad = await caught(() => repo.acquire('m', 'latest'));
      expect(bad.code).toBe('NOT_FOUND');

      putConfig(dirs.root, 'm', { version_policy: { latest: { num_versions: 2 } } });
      await repo.poll();
      expect(versions()).toEqual([3, 2]);
      expect((await caught(() => repo.acquire('m', '1'))).code).toBe('NOT_FOUND');
    } finally {
      await closeRepo(repo);
      dirs.cleanup();
    }
  });
});
