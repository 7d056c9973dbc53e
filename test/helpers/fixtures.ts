// The test fixtures every kind of test shares: temporary model repositories (built so that a polling
// repository never sees half a file), polling for a condition, free ports, and the slow-model constants.
// Kept free of vitest and of servers so any helper or test can use it.
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';

// ---------------------------------------------------------------------------------------------
// Temporary repositories

/** A fresh, empty repository directory and a sibling staging directory on the same filesystem. */
export function tempRepo(): { root: string; staging: string; cleanup(): void } {
  const base = mkdtempSync(join(tmpdir(), 'tg-repo-'));
  const root = join(base, 'models');
  const staging = join(base, 'staging');
  mkdirSync(root);
  mkdirSync(staging);
  return { root, staging, cleanup: () => rmSync(base, { recursive: true, force: true }) };
}

let staged = 0;
function stagingDir(root: string): string {
  const dir = join(root, '..', 'staging');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Writes a file by rename, so a concurrent poll sees the old bytes or the new ones, never a mix. */
export function writeAtomic(root: string, path: string, bytes: Uint8Array | string): void {
  const tmp = join(stagingDir(root), `f${++staged}`);
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

/**
 * <root>/<name>/<version>/model.onnx. A new version directory appears complete (built in staging,
 * then renamed into place); an existing one gets its model file replaced atomically.
 */
export function putModel(root: string, name: string, version: number, bytes: Uint8Array, file = 'model.onnx'): string {
  const modelDir = join(root, name);
  mkdirSync(modelDir, { recursive: true });
  const versionDir = join(modelDir, String(version));
  const path = join(versionDir, file);
  try {
    mkdirSync(versionDir);
  } catch {
    writeAtomic(root, path, bytes);
    return path;
  }
  // The directory did not exist: stage a complete one and swap it in.
  rmSync(versionDir, { recursive: true });
  const tmp = join(stagingDir(root), `v${++staged}`);
  mkdirSync(tmp);
  writeFileSync(join(tmp, file), bytes);
  renameSync(tmp, versionDir);
  return path;
}

/** Writes <root>/<name>/config.json (an object or raw text) or config.yaml. */
export function putConfig(root: string, name: string, config: object | string, file: 'config.json' | 'config.yaml' | 'config.yml' = 'config.json'): void {
  mkdirSync(join(root, name), { recursive: true });
  const text = typeof config === 'string' ? config : file === 'config.json' ? JSON.stringify(config, null, 2) : toYaml(config);
  writeAtomic(root, join(root, name, file), text);
}

export interface RepoModel {
  /** The model bytes of version 1, or bytes per version. */
  bytes?: Uint8Array;
  versions?: Record<number, Uint8Array>;
  /** Written as config.json when given. */
  config?: Record<string, unknown>;
  /** Written verbatim as config.json (for invalid configs). */
  rawConfig?: string;
}

/** A temporary repository holding `models`; returns its root (see tempRepo() to clean up yourself). */
export function makeRepository(models: Record<string, RepoModel>): string {
  const { root } = tempRepo();
  for (const [name, m] of Object.entries(models)) {
    for (const [version, bytes] of Object.entries(m.versions ?? { 1: m.bytes! })) putModel(root, name, Number(version), bytes);
    if (m.config) putConfig(root, name, m.config);
    if (m.rawConfig !== undefined) putConfig(root, name, m.rawConfig);
  }
  return root;
}

// ---------------------------------------------------------------------------------------------
// Waiting

/**
 * Polls `cond` (sync or async) every `every` ms until it returns something truthy, and returns that;
 * throws after `ms`, naming `what`.
 */
export async function until<T>(cond: () => T | Promise<T>, what = 'condition', ms = 10_000, every = 2): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A loopback port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Slow models

/** The width of slowBatchModel()s in tests (src/onnx/models.ts): ~ms per run whatever the batch. */
export const SLOW_SIZE = 256;

/** One ORT thread per slow model (2-core machine: the event loop keeps a core). */
export const ONE_THREAD = { intra_op_thread_count: { string_value: '1' } };
