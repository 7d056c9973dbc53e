// Issue 5, item 5: on-demand loading with LRU eviction under memoryBudgetBytes. A request for a model
// that is not loaded loads it (concurrent requests share one load); over the budget the least recently
// used idle model is unloaded; a model with a lease held is never unloaded under its request.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/index.js';
import { RepositoryError } from '../src/repository/errors.js';
import { ModelRepository, type ServedVersion } from '../src/repository/repository.js';
import {
  HookRecorder,
  RecordingLogger,
  acquire,
  addConstModel,
  caught,
  closeRepo,
  countingEngine,
  onesInput,
  putModel,
  tempRepo,
} from './helpers/repo-fixtures.js';

const engine = Engine.create({ logger: { warn: () => {} } });
/** Every addConstModel has the same size on disk. */
const SIZE = addConstModel(0).length;
/** Room for two models, not three. */
const BUDGET = 2 * SIZE + Math.floor(SIZE / 2);
const NAMES = ['a', 'b', 'c', 'd'];

describe('on-demand loading with LRU eviction', () => {
  let dirs: ReturnType<typeof tempRepo>;
  let hooks: HookRecorder;
  let log: RecordingLogger;
  let counting: ReturnType<typeof countingEngine>;
  let repo: ModelRepository;
  const held: ServedVersion[] = [];

  beforeEach(async () => {
    dirs = tempRepo();
    NAMES.forEach((name, i) => putModel(dirs.root, name, 1, addConstModel(i + 1)));
    hooks = new HookRecorder();
    log = new RecordingLogger();
    counting = countingEngine(engine);
    repo = await ModelRepository.open({
      root: dirs.root,
      engine: counting.engine,
      controlMode: 'explicit',
      startupModels: [],
      memoryBudgetBytes: BUDGET,
      logger: log,
      hooks: hooks.hooks,
    });
  });
  afterEach(async () => {
    for (const i of held.splice(0)) repo.release(i);
    await closeRepo(repo);
    dirs.cleanup();
  });

  const loadsOf = (name: string) => counting.loads.filter((p) => p.includes(`/${name}/1/`)).length;
  const loaded = () => NAMES.filter((n) => repo.served(n).length > 0);
  const use = async (name: string) => {
    const i = await acquire(repo, name);
    try {
      const out = await i.model.infer(onesInput());
      return (out.y!.data as Float32Array)[0]! - 1;
    } finally {
      repo.release(i);
    }
  };

  it('a request for a model that is not loaded loads it', async () => {
    expect(loaded()).toEqual([]);
    expect(repo.ready()).toBe(true);
    const pending = repo.acquire('b');
    expect(pending).toBeInstanceOf(Promise);
    const instance = await pending;
    expect(instance.name).toBe('b');
    expect((await instance.model.infer(onesInput())).y!.data[0]).toBe(3);
    repo.release(instance);
    expect(loadsOf('b')).toBe(1);
    // Loaded on demand: not required, so the repository's readiness does not depend on it.
    expect(repo.ready()).toBe(true);
    // Once served, acquire() is synchronous.
    const again = repo.acquire('b');
    expect(again).toBe(instance);
    repo.release(again as ServedVersion);
  });

  it('N concurrent requests wait on one load', async () => {
    const all = await Promise.all(Array.from({ length: 32 }, () => acquire(repo, 'c')));
    held.push(...all);
    expect(new Set(all).size).toBe(1);
    expect(loadsOf('c')).toBe(1);
    expect(hooks.servedCount('c')).toBe(1);
    expect(log.of('info').filter((e) => e.fields.model === 'c' && e.message === 'model version ready')).toHaveLength(1);
    const answers = await Promise.all(all.map((i) => i.model.infer(onesInput())));
    expect(answers.map((o) => o.y!.data[0])).toEqual(new Array(32).fill(4));
  });

  it('over the budget, the least recently used idle model is unloaded', async () => {
    expect(await use('a')).toBe(1);
    expect(await use('b')).toBe(2);
    expect(await use('a')).toBe(1); // now b is the least recently used
    const b = repo.served('b')[0]!;
    expect(await use('c')).toBe(3);
    expect(loaded()).toEqual(['a', 'c']);
    await hooks.retiredOf(b);
    expect(b.model.accepting).toBe(false);
    expect(log.of('info').filter((e) => e.message === 'evicting the least recently used model to fit the memory budget').map((e) => e.fields)).toEqual([
      { model: 'b', budget: BUDGET },
    ]);
    expect(repo.index().find((e) => e.name === 'b')).toEqual({ name: 'b', state: 'UNAVAILABLE', reason: 'unloaded' });
    // b comes back on demand and pushes out the now least recently used a.
    expect(await use('b')).toBe(2);
    expect(loaded()).toEqual(['b', 'c']);
    expect(loadsOf('b')).toBe(2);
  });

  it('a model with a lease held is never unloaded under its request', async () => {
    const a = await acquire(repo, 'a'); // held: a request in flight
    held.push(a);
    const inflight = a.model.infer(onesInput());
    expect(await use('b')).toBe(2);
    // a is the least recently used, but leased: b goes instead.
    expect(await use('c')).toBe(3);
    expect(loaded()).toEqual(['a', 'c']);
    expect(a.model.accepting).toBe(true);
    expect((await inflight).y!.data[0]).toBe(2);
    expect((await a.model.infer(onesInput())).y!.data[0]).toBe(2);

    // Both loaded models leased: d cannot fit, and nothing is unloaded.
    const c = await acquire(repo, 'c');
    held.push(c);
    const err = await caught(() => repo.acquire('d'));
    expect(err).toBeInstanceOf(RepositoryError);
    expect(err.code).toBe('UNAVAILABLE');
    expect(err.message).toBe(
      `model 'd' (${SIZE} bytes) does not fit the model memory budget of ${BUDGET} bytes: ${2 * SIZE} bytes are loaded and in use`,
    );
    expect(loaded()).toEqual(['a', 'c']);
    expect(a.model.accepting).toBe(true);
    expect(c.model.accepting).toBe(true);
    expect(loadsOf('d')).toBe(0);

    // Once a's request is done, a is the idle one to go.
    repo.release(held.shift()!);
    expect(await use('d')).toBe(4);
    expect(loaded()).toEqual(['c', 'd']);
    await hooks.retiredOf(a);
    expect(a.model.accepting).toBe(false);
  });

  it('models loaded through the load API are not evicted', async () => {
    await repo.load('a');
    expect(await use('b')).toBe(2);
    expect(await use('c')).toBe(3);
    expect(loaded()).toEqual(['a', 'c']);
    expect(await use('d')).toBe(4);
    expect(loaded()).toEqual(['a', 'd']);
  });

  it('concurrent on-demand loads of different models still respect the budget', async () => {
    expect(await use('a')).toBe(1);
    // b and c each fit next to a on their own, but not together.
    const [b, c] = await Promise.all([acquire(repo, 'b'), acquire(repo, 'c')]);
    repo.release(b);
    repo.release(c);
    const bytes = repo.allServed().reduce((n, i) => n + i.sizeBytes, 0);
    expect(loaded()).toEqual(['b', 'c']);
    expect(bytes).toBeLessThanOrEqual(BUDGET);
  });
});
