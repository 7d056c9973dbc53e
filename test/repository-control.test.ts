// Issue 5, item 2: control modes. `none` loads everything at start and refuses load/unload;
// `explicit` loads only startupModels ('*' = all) and takes load (with a config override) and unload;
// `poll` notices new and removed model directories, new version directories, changed model files and
// changed configs.
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/index.js';
import { tinyModel } from '../src/onnx/models.js';
import { parseModelConfig } from '../src/repository/config-file.js';
import { RepositoryError } from '../src/repository/errors.js';
import { ModelRepository } from '../src/repository/repository.js';
import {
  HookRecorder,
  RecordingLogger,
  acquire,
  addConstModel,
  caught,
  closeRepo,
  onesInput,
  putConfig,
  putModel,
  tempRepo,
} from './helpers/repo-fixtures.js';

const engine = Engine.create({ logger: { warn: () => {} } });

async function answer(repo: ModelRepository, name: string): Promise<number> {
  const i = await acquire(repo, name);
  try {
    const out = await i.model.infer(onesInput());
    return (out.y!.data as Float32Array)[0]! - 1;
  } finally {
    repo.release(i);
  }
}

describe("control mode 'none'", () => {
  const dirs = tempRepo();
  let repo: ModelRepository;
  beforeAll(async () => {
    putModel(dirs.root, 'a', 1, addConstModel(1));
    putModel(dirs.root, 'b', 1, addConstModel(2));
    repo = await ModelRepository.open({ root: dirs.root, engine, controlMode: 'none', logger: new RecordingLogger() });
  });
  afterAll(async () => {
    await closeRepo(repo);
    dirs.cleanup();
  });

  it('loads every model at start', async () => {
    expect(repo.ready()).toBe(true);
    expect(repo.index()).toEqual([
      { name: 'a', version: '1', state: 'READY' },
      { name: 'b', version: '1', state: 'READY' },
    ]);
    expect(await answer(repo, 'a')).toBe(1);
    expect(await answer(repo, 'b')).toBe(2);
  });

  it('rejects load and unload', async () => {
    for (const op of [() => repo.load('a'), () => repo.unload('a'), () => repo.load('new')]) {
      const err = await caught(op);
      expect(err).toBeInstanceOf(RepositoryError);
      expect(err.code).toBe('INVALID');
      expect(err.message).toBe("explicit model load / unload is not allowed in 'none' model control mode");
    }
    expect(repo.served('a')).toHaveLength(1);
  });

  it('does not notice changes on disk', async () => {
    putModel(dirs.root, 'c', 1, addConstModel(3));
    expect(repo.index().find((e) => e.name === 'c')).toEqual({ name: 'c', state: 'UNAVAILABLE', reason: 'unloaded' });
    const err = await caught(() => repo.acquire('c'));
    expect(err.code).toBe('UNAVAILABLE');
    expect(err.message).toBe("model 'c' is not loaded");
    const missing = await caught(() => repo.acquire('nosuchmodel'));
    expect(missing.code).toBe('NOT_FOUND');
  });
});

describe("control mode 'explicit'", () => {
  const dirs = tempRepo();
  const hooks = new HookRecorder();
  let repo: ModelRepository;
  beforeAll(async () => {
    putModel(dirs.root, 'a', 1, addConstModel(1));
    putModel(dirs.root, 'b', 1, tinyModel());
    putModel(dirs.root, 'c', 1, addConstModel(3));
    repo = await ModelRepository.open({ root: dirs.root, engine, controlMode: 'explicit', startupModels: ['a'], logger: new RecordingLogger(), hooks: hooks.hooks });
  });
  afterAll(async () => {
    await closeRepo(repo);
    dirs.cleanup();
  });

  it('loads only the startup models', () => {
    expect(repo.ready()).toBe(true);
    expect(repo.index()).toEqual([
      { name: 'a', version: '1', state: 'READY' },
      { name: 'b', state: 'UNAVAILABLE', reason: 'unloaded' },
      { name: 'c', state: 'UNAVAILABLE', reason: 'unloaded' },
    ]);
    expect(repo.served('b')).toEqual([]);
    expect(hooks.served.map((s) => s.instance.name)).toEqual(['a']);
  });

  it("loads every model with startupModels ['*']", async () => {
    const all = await ModelRepository.open({ root: dirs.root, engine, controlMode: 'explicit', startupModels: ['*'], logger: new RecordingLogger() });
    try {
      expect(all.index().map((e) => [e.name, e.state])).toEqual([
        ['a', 'READY'],
        ['b', 'READY'],
        ['c', 'READY'],
      ]);
      expect(all.ready()).toBe(true);
    } finally {
      await closeRepo(all);
    }
  });

  it('load() loads, with a config override too, and unload() unloads', async () => {
    await repo.load('b');
    const first = repo.served('b')[0]!;
    expect(first.model.metadata.maxBatchSize).toBe(64);
    // A config given in the load request replaces the repository's: a new instance is swapped in.
    const override = parseModelConfig({ max_batch_size: 2, dynamic_batching: { max_queue_delay_microseconds: '500' } }, 'load request config', 'b');
    await repo.load('b', override);
    const second = repo.served('b')[0]!;
    expect(second.generation).not.toBe(first.generation);
    expect(second.model.metadata.maxBatchSize).toBe(2);
    expect(second.effectiveConfig).toMatchObject({ max_batch_size: 2, dynamic_batching: { max_queue_delay_microseconds: 500 } });
    await hooks.retiredOf(first);
    expect(first.model.accepting).toBe(false);

    await repo.unload('b');
    expect(repo.served('b')).toEqual([]);
    expect(second.model.accepting).toBe(false);
    expect(hooks.retired.some((r) => r.instance === second)).toBe(true);
    expect(repo.index().find((e) => e.name === 'b')).toEqual({ name: 'b', state: 'UNAVAILABLE', reason: 'unloaded' });
    expect(repo.ready()).toBe(true);
  });

  it('a request neither loads a model that is not loaded nor undoes an unload (no memory budget set)', async () => {
    expect(repo.served('c')).toEqual([]);
    // Release whatever a wrongly successful acquire returns, so close() is not left waiting on it.
    const attempt = async () => repo.release(await repo.acquire('c'));
    const err = await caught(attempt);
    expect(err.code).toBe('UNAVAILABLE');
    expect(repo.served('c')).toEqual([]);
    await repo.load('c');
    await repo.unload('c');
    const after = await caught(attempt);
    expect(after.code).toBe('UNAVAILABLE');
    expect(repo.served('c')).toEqual([]);
  });

  it('load() and unload() of an unknown model are NOT_FOUND; a failed load reports LOAD_FAILED', async () => {
    for (const op of [() => repo.load('nosuch'), () => repo.unload('nosuch')]) {
      const err = await caught(op);
      expect(err.code).toBe('NOT_FOUND');
      expect(err.message).toBe("unknown model 'nosuch': no such directory in the model repository");
    }
    putModel(dirs.root, 'empty', 1, new Uint8Array(0));
    rmSync(join(dirs.root, 'empty', '1'), { recursive: true });
    const err = await caught(() => repo.load('empty'));
    expect(err.code).toBe('LOAD_FAILED');
    expect(err.message).toBe(`failed to load 'empty': no version directory with model.onnx in ${join(repo.root, 'empty')}`);
    rmSync(join(dirs.root, 'empty'), { recursive: true });
  });
});

describe("control mode 'poll'", () => {
  it('rejects load and unload', async () => {
    const dirs = tempRepo();
    const repo = await ModelRepository.open({ root: dirs.root, engine, controlMode: 'poll', pollSeconds: 3600, logger: new RecordingLogger() });
    try {
      const err = await caught(() => repo.load('x'));
      expect(err.code).toBe('INVALID');
      expect(err.message).toBe("explicit model load / unload is not allowed in 'poll' model control mode");
    } finally {
      await closeRepo(repo);
      dirs.cleanup();
    }
  });

  it('repo.poll() picks up new and removed models, new versions, changed model files and changed configs', async () => {
    const dirs = tempRepo();
    const root = dirs.root;
    const hooks = new HookRecorder();
    const log = new RecordingLogger();
    putModel(root, 'm', 1, addConstModel(1));
    putModel(root, 'gone', 1, addConstModel(9));
    const repo = await ModelRepository.open({ root, engine, controlMode: 'poll', pollSeconds: 3600, logger: log, hooks: hooks.hooks });
    try {
      expect(await answer(repo, 'm')).toBe(1);
      const v1 = repo.served('m')[0]!;

      // A new model directory.
      putModel(root, 'added', 1, addConstModel(5));
      await repo.poll();
      expect(await answer(repo, 'added')).toBe(5);

      // A removed model directory.
      const gone = repo.served('gone')[0]!;
      rmSync(join(root, 'gone'), { recursive: true });
      await repo.poll();
      expect(repo.served('gone')).toEqual([]);
      await hooks.retiredOf(gone);
      expect(gone.model.accepting).toBe(false);
      expect((await caught(() => repo.acquire('gone'))).code).toBe('NOT_FOUND');
      expect(repo.index().map((e) => e.name)).toEqual(['added', 'm']);
      expect(log.of('info').some((e) => e.fields.model === 'gone' && e.message === 'model removed from the repository; unloading')).toBe(true);

      // A new version directory: served, and the old version retired (latest 1).
      putModel(root, 'm', 2, addConstModel(2));
      await repo.poll();
      expect(await answer(repo, 'm')).toBe(2);
      expect(repo.served('m').map((i) => i.version)).toEqual([2]);
      await hooks.retiredOf(v1);

      // A changed model file in the served version (same size: only the mtime differs).
      const v2 = repo.served('m')[0]!;
      putModel(root, 'm', 2, addConstModel(3));
      await repo.poll();
      expect(await answer(repo, 'm')).toBe(3);
      const v2b = repo.served('m')[0]!;
      expect(v2b.version).toBe(2);
      expect(v2b.generation).not.toBe(v2.generation);
      expect(v2b.contentHash).not.toBe(v2.contentHash);
      await hooks.retiredOf(v2);

      // A changed config.
      putConfig(root, 'm', { max_batch_size: 2 });
      await repo.poll();
      const v2c = repo.served('m')[0]!;
      expect(v2c.generation).not.toBe(v2b.generation);
      expect(v2c.model.metadata.maxBatchSize).toBe(2);
      expect(v2c.contentHash).not.toBe(v2b.contentHash);
      expect(await answer(repo, 'm')).toBe(3);

      // Nothing changed: nothing reloads.
      const before = hooks.servedCount();
      await repo.poll();
      expect(hooks.servedCount()).toBe(before);
    } finally {
      await closeRepo(repo);
      dirs.cleanup();
    }
  });

  it('notices every kind of change within a couple of poll intervals on its own', async () => {
    const dirs = tempRepo();
    const root = dirs.root;
    const hooks = new HookRecorder();
    putModel(root, 'm', 1, addConstModel(1));
    putModel(root, 'gone', 1, addConstModel(9));
    const interval = 0.1;
    const repo = await ModelRepository.open({ root, engine, controlMode: 'poll', pollSeconds: interval, logger: new RecordingLogger(), hooks: hooks.hooks });
    // Generous: 2 intervals plus a load, on a loaded 2-core machine.
    const limit = 2 * interval * 1000 + 5000;
    const timed = async (change: () => void, done: () => unknown, what: string) => {
      const t0 = performance.now();
      change();
      await hooks.until(done, what, 20_000);
      const ms = performance.now() - t0;
      expect(ms, what).toBeLessThan(limit);
      return ms;
    };
    try {
      const servedOf = (name: string, gen?: number) => () => hooks.served.find((s) => s.instance.name === name && (gen === undefined || s.instance.generation > gen));
      await timed(() => putModel(root, 'added', 1, addConstModel(5)), servedOf('added'), 'a new model directory');
      const gone = repo.served('gone')[0]!;
      await timed(() => rmSync(join(root, 'gone'), { recursive: true }), () => hooks.retired.find((r) => r.instance === gone), 'a removed model directory');
      let gen = repo.served('m')[0]!.generation;
      await timed(() => putModel(root, 'm', 2, addConstModel(2)), servedOf('m', gen), 'a new version directory');
      expect(await answer(repo, 'm')).toBe(2);
      gen = repo.served('m')[0]!.generation;
      await timed(() => putModel(root, 'm', 2, addConstModel(3)), servedOf('m', gen), 'a changed model file');
      expect(await answer(repo, 'm')).toBe(3);
      gen = repo.served('m')[0]!.generation;
      await timed(() => putConfig(root, 'm', { max_batch_size: 3 }), servedOf('m', gen), 'a changed config');
      expect(repo.served('m')[0]!.model.metadata.maxBatchSize).toBe(3);
    } finally {
      await closeRepo(repo);
      dirs.cleanup();
    }
  });

  it('a model that fails to load does not take the process down', async () => {
    const dirs = tempRepo();
    putModel(dirs.root, 'good', 1, tinyModel());
    putModel(dirs.root, 'broken', 1, addConstModel(1));
    writeFileSync(join(dirs.root, 'broken', '1', 'model.onnx'), 'not an onnx model');
    const child = resolve(import.meta.dirname, 'helpers', 'repo-crash-child.ts');
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
      const p = spawn(process.execPath, ['--import', 'tsx', child, dirs.root], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('close', (code) => done({ code, stdout, stderr }));
    });
    dirs.cleanup();
    expect(result.stderr).not.toMatch(/RepositoryError/);
    expect(result.stdout).toBe('opened ready=false\nalive index=["UNAVAILABLE","READY"]\nclosed\n');
    expect(result.code).toBe(0);
  });
});
