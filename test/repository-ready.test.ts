// Issue 5, item 4: readiness. A model version is not READY until its model_warmup has run, and the
// repository is ready only when every model that must be loaded serves a READY version.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine, type Model } from '../src/engine/index.js';
import { slowBatchModel, tinyModel } from '../src/onnx/models.js';
import { ModelRepository, type ServedVersion } from '../src/repository/repository.js';
import { HookRecorder, RecordingLogger, closeRepo, countingEngine, putConfig, putModel, tempRepo } from './helpers/repo-fixtures.js';

const engine = Engine.create({ logger: { warn: () => {} } });

const WARMUP_RUNS = 8;
const RUN_MS = 40;

function slowWithWarmup(root: string, name: string): void {
  putModel(root, name, 1, slowBatchModel({ ms: RUN_MS }));
  putConfig(root, name, {
    model_warmup: [{ name: 'noise', batch_size: 2, count: WARMUP_RUNS, inputs: { x: { data_type: 'TYPE_FP32', dims: [256], random_data: true } } }],
  });
}

describe('readiness', () => {
  it('a model is not READY (and the repository not ready) until its warmup has run', async () => {
    const dirs = tempRepo();
    slowWithWarmup(dirs.root, 'slow');
    putModel(dirs.root, 'fast', 1, tinyModel());
    const hooks = new HookRecorder();
    // Note when the engine finished creating the session: warmup runs after that.
    const counting = countingEngine(engine);
    let sessionReadyAt = Infinity;
    let sessionModel: Model | undefined;
    const timedEngine = {
      load: async (...args: Parameters<Engine['load']>) => {
        const m = await counting.engine.load(...args);
        if (String(args[0]).includes('/slow/')) {
          sessionReadyAt = performance.now();
          sessionModel = m;
        }
        return m;
      },
    } as unknown as Engine;
    const repo = await ModelRepository.open({
      root: dirs.root,
      engine: timedEngine,
      controlMode: 'explicit',
      startupModels: ['fast'],
      logger: new RecordingLogger(),
      hooks: hooks.hooks,
    });
    let leased: ServedVersion | undefined;
    try {
      expect(repo.ready()).toBe(true);
      const loading = repo.load('slow');
      let loaded = false;
      void loading.then(
        () => (loaded = true),
        () => (loaded = true),
      );
      // A request during the load waits for it (explicit mode) and gets the warmed-up instance.
      const early = repo.acquire('slow');
      expect(early).toBeInstanceOf(Promise);
      void Promise.resolve(early).then((i) => (leased = i), () => undefined);
      const samples: Array<{ t: number; warmed: number; ready: boolean; state: string | undefined; served: number }> = [];
      while (!loaded) {
        samples.push({
          t: performance.now(),
          warmed: sessionModel ? sessionModel.stats().inferenceCount : -1,
          ready: repo.ready(),
          state: repo.index().find((e) => e.name === 'slow')?.state,
          served: repo.served('slow').length,
        });
        await new Promise((r) => setTimeout(r, 5));
      }
      await loading;
      const servedAt = hooks.served.find((s) => s.instance.name === 'slow')!.t;
      const before = samples.filter((s) => s.t < servedAt);
      const duringWarmup = before.filter((s) => s.t > sessionReadyAt);
      // Observed in the middle of the warmup: the session exists and has run part of the warmup.
      const midWarmup = duringWarmup.filter((s) => s.warmed > 0 && s.warmed < WARMUP_RUNS * 2);
      expect(midWarmup.length).toBeGreaterThan(0);
      for (const s of before) expect(s).toMatchObject({ ready: false, served: 0 });
      for (const s of duringWarmup) expect(s.state).toBe('LOADING');
      // The warmup had run, completely, when the model was served.
      const instance = (await early) as ServedVersion;
      expect(instance.model).toBe(sessionModel);
      expect(instance.model.stats().inferenceCount).toBe(WARMUP_RUNS * 2);
      expect(repo.ready()).toBe(true);
      expect(repo.index().find((e) => e.name === 'slow')).toEqual({ name: 'slow', version: '1', state: 'READY' });
      const states = hooks.states.filter((s) => s.name === 'slow');
      expect(states.map((s) => s.state)).toEqual(['LOADING', 'READY']);
      expect(states[1]!.t).toBeGreaterThanOrEqual(servedAt);
      expect(counting.loads.filter((p) => p.includes('/slow/'))).toHaveLength(1);
    } finally {
      if (leased) repo.release(leased);
      await closeRepo(repo);
      dirs.cleanup();
    }
  });

  it('in poll mode a newly added model keeps the repository not ready until it is warmed up', async () => {
    const dirs = tempRepo();
    putModel(dirs.root, 'fast', 1, tinyModel());
    const hooks = new HookRecorder();
    const repo = await ModelRepository.open({ root: dirs.root, engine, controlMode: 'poll', pollSeconds: 3600, logger: new RecordingLogger(), hooks: hooks.hooks });
    try {
      expect(repo.ready()).toBe(true);
      slowWithWarmup(dirs.root, 'slow');
      const polling = repo.poll();
      await hooks.until(() => hooks.states.find((s) => s.name === 'slow' && s.state === 'LOADING'), 'slow LOADING');
      expect(repo.ready()).toBe(false);
      expect(repo.index().find((e) => e.name === 'slow')?.state).toBe('LOADING');
      await polling;
      expect(repo.ready()).toBe(true);
      expect(repo.served('slow')[0]!.model.stats().inferenceCount).toBe(WARMUP_RUNS * 2);
    } finally {
      await closeRepo(repo);
      dirs.cleanup();
    }
  });

  it('a warmup that fails keeps the model from serving', async () => {
    const dirs = tempRepo();
    putModel(dirs.root, 'w', 1, tinyModel());
    // The warmup's input_data_file holds the wrong number of bytes.
    putConfig(dirs.root, 'w', { model_warmup: [{ name: 'file', inputs: { x: { data_type: 'TYPE_FP32', dims: [16], input_data_file: 'x.bin' } } }] });
    mkdirSync(join(dirs.root, 'w', '1', 'warmup'));
    writeFileSync(join(dirs.root, 'w', '1', 'warmup', 'x.bin'), Buffer.alloc(10));
    const hooks = new HookRecorder();
    const repo = await ModelRepository.open({ root: dirs.root, engine, controlMode: 'none', logger: new RecordingLogger(), hooks: hooks.hooks });
    try {
      expect(repo.ready()).toBe(false);
      expect(repo.served('w')).toEqual([]);
      expect(repo.index()).toEqual([
        { name: 'w', version: '1', state: 'UNAVAILABLE', reason: "w/config.json: model_warmup[0] ('file'): inputs.x.input_data_file: x.bin has 10 bytes, expected 64" },
      ]);
    } finally {
      await closeRepo(repo);
      dirs.cleanup();
    }
  });

  it('ready() is true only when every model that must be loaded is READY', async () => {
    const dirs = tempRepo();
    putModel(dirs.root, 'good', 1, tinyModel());
    putModel(dirs.root, 'bad', 1, tinyModel());
    writeFileSync(join(dirs.root, 'bad', '1', 'model.onnx'), 'truncated');

    // none: every model must load, so a failing one keeps the repository not ready.
    const none = await ModelRepository.open({ root: dirs.root, engine, controlMode: 'none', logger: new RecordingLogger() });
    expect(none.ready()).toBe(false);
    expect(none.index().map((e) => `${e.name}:${e.state}`)).toEqual(['bad:UNAVAILABLE', 'good:READY']);
    expect(none.index({ ready: true })).toEqual([{ name: 'good', version: '1', state: 'READY' }]);
    await closeRepo(none);
    expect(none.ready()).toBe(false); // closed

    // explicit: only what was asked for must load.
    const explicit = await ModelRepository.open({ root: dirs.root, engine, controlMode: 'explicit', startupModels: ['good'], logger: new RecordingLogger() });
    try {
      expect(explicit.ready()).toBe(true);
      await expect(explicit.load('bad')).rejects.toMatchObject({ code: 'LOAD_FAILED' });
      expect(explicit.ready()).toBe(false);
      await explicit.unload('bad');
      expect(explicit.ready()).toBe(true);
    } finally {
      await closeRepo(explicit);
    }

    // poll: fixing the broken model makes the repository ready.
    const poll = await ModelRepository.open({ root: dirs.root, engine, controlMode: 'poll', pollSeconds: 3600, logger: new RecordingLogger() });
    try {
      expect(poll.ready()).toBe(false);
      putModel(dirs.root, 'bad', 1, tinyModel());
      await poll.poll();
      expect(poll.ready()).toBe(true);
    } finally {
      await closeRepo(poll);
      dirs.cleanup();
    }
  });
});
