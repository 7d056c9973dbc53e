// Issue 5, item 6: a model name can never reach outside the repository. Names must match
// [A-Za-z0-9_.-]+ and not be '.' or '..'; slashes (also ones that arrive %2F-encoded and are decoded
// by the HTTP layer) are refused; a symlink inside the repository that points outside it is refused.
// Every refusal is RepositoryError INVALID (HTTP 400), for acquire, load and unload alike.
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/index.js';
import { RepositoryError } from '../src/repository/errors.js';
import { ModelRepository } from '../src/repository/repository.js';
import { RecordingLogger, acquire, addConstModel, caught, closeRepo, onesInput, putModel, tempRepo } from './helpers/repo-fixtures.js';

const engine = Engine.create({ logger: { warn: () => {} } });

const BAD_NAMES = [
  '..',
  '.',
  '',
  'a/b',
  '../a',
  'a/../a',
  '/etc',
  decodeURIComponent('a%2Fb'),
  decodeURIComponent('%2E%2E'),
  decodeURIComponent('..%2Fa'),
  'a%2Fb',
  'a\\b',
  'a b',
  'a\0b',
  'ä',
];

describe('model names and paths', () => {
  const dirs = tempRepo();
  const root = dirs.root;
  const outside = tempRepo();
  let repo: ModelRepository;

  beforeAll(async () => {
    putModel(root, 'a', 1, addConstModel(1));
    putModel(root, 'Good_name.v-2', 1, addConstModel(2));
    // A model directory outside the repository, and links to it from inside.
    putModel(outside.root, 'secret', 1, addConstModel(7));
    symlinkSync(join(outside.root, 'secret'), join(root, 'escape'));
    symlinkSync('../staging', join(root, 'relescape'));
    // A link that stays inside the repository is fine.
    symlinkSync(join(root, 'a'), join(root, 'alias'));
    repo = await ModelRepository.open({ root, engine, controlMode: 'explicit', startupModels: [], logger: new RecordingLogger() });
  });
  afterAll(async () => {
    await closeRepo(repo);
    dirs.cleanup();
    outside.cleanup();
  });

  it('accepts names of letters, digits, _ . and -', async () => {
    await repo.load('Good_name.v-2');
    const i = await acquire(repo, 'Good_name.v-2');
    expect((await i.model.infer(onesInput())).y!.data[0]).toBe(3);
    repo.release(i);
    await repo.unload('Good_name.v-2');
  });

  for (const name of BAD_NAMES) {
    it(`refuses ${JSON.stringify(name)} for acquire, load and unload`, async () => {
      for (const [op, fn] of [
        ['acquire', () => repo.acquire(name)],
        ['acquire version', () => repo.acquire(name, '1')],
        ['load', () => repo.load(name)],
        ['unload', () => repo.unload(name)],
      ] as const) {
        const err = await caught(fn);
        expect(err, op).toBeInstanceOf(RepositoryError);
        expect(err.code, op).toBe('INVALID');
        expect(err.message, op).toBe(`invalid model name '${name}': use letters, digits, '_', '.' and '-'`);
      }
      expect(repo.served(name)).toEqual([]);
      expect(repo.exists(name)).toBe(false);
    });
  }

  it('finds no version that is not a non-negative integer (NOT_FOUND, never a path)', async () => {
    await repo.load('a');
    for (const version of ['../1', '-1', '1.0', 'latest', '']) {
      const err = await caught(() => repo.acquire('a', version));
      expect(err.code, version).toBe('NOT_FOUND');
      expect(err.message).toBe(`model 'a' has no version '${version}': versions are non-negative integers`);
    }
  });

  it('refuses a symlink inside the repository that points outside it', async () => {
    for (const name of ['escape', 'relescape']) {
      for (const [op, fn] of [
        ['acquire', () => repo.acquire(name)],
        ['load', () => repo.load(name)],
        ['unload', () => repo.unload(name)],
      ] as const) {
        const err = await caught(fn);
        expect(err, `${op} ${name}`).toBeInstanceOf(RepositoryError);
        expect(err.code, `${op} ${name}`).toBe('INVALID');
        expect(err.message).toBe(`model '${name}' resolves outside the model repository`);
      }
      expect(repo.exists(name)).toBe(false);
    }
    expect(repo.served('escape')).toEqual([]);
  });

  it('follows a symlink that stays inside the repository', async () => {
    await repo.load('alias');
    const i = await acquire(repo, 'alias');
    expect((await i.model.infer(onesInput())).y!.data[0]).toBe(2);
    repo.release(i);
  });

  it('refuses a version directory that is a symlink to outside the repository', async () => {
    putModel(outside.root, 'other', 5, addConstModel(9));
    mkdirSync(join(root, 'vlink'));
    symlinkSync(join(outside.root, 'other', '5'), join(root, 'vlink', '1'));
    const err = await caught(() => repo.load('vlink'));
    expect(err.code).toBe('INVALID');
    expect(repo.served('vlink')).toEqual([]);
  });
});

describe('an escaping symlink in a repository loaded at start', () => {
  it('is skipped with a warning; the other models load and it is refused by name', async () => {
    const dirs = tempRepo();
    const outside = tempRepo();
    putModel(dirs.root, 'a', 1, addConstModel(1));
    putModel(outside.root, 'secret', 1, addConstModel(7));
    symlinkSync(join(outside.root, 'secret'), join(dirs.root, 'escape'));
    const log = new RecordingLogger();
    const opened = await ModelRepository.open({ root: dirs.root, engine, controlMode: 'none', logger: log }).then(
      (repo) => ({ repo, error: undefined }),
      (error: Error) => ({ repo: undefined, error: error.message }),
    );
    try {
      expect(opened.error).toBeUndefined();
      const repo = opened.repo!;
      expect(repo.served('a')).toHaveLength(1);
      expect(repo.served('escape')).toEqual([]);
      expect(log.of('warn').some((e) => e.fields.model === 'escape')).toBe(true);
      const err = await caught(() => repo.acquire('escape'));
      expect(err.code).toBe('INVALID');
    } finally {
      await closeRepo(opened.repo);
      dirs.cleanup();
      outside.cleanup();
    }
  });
});
