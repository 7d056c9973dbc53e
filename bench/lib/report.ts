// What every load benchmark prints and does first: the TypeScript build its servers run from, and the
// table of interleaved rounds (req/s, p50, p99 as median and min–max, errors summed over rounds).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { spreadText, type Spread } from './rounds.js';

/** Compiles src/ to dist/ (the servers a benchmark starts run the build, as users do). */
export function buildDist(root: string): void {
  if (spawnSync('npx', ['tsc', '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' }).status !== 0) throw new Error('TypeScript build failed');
}

/** 12345 -> "12.3k". */
export function kilo(v: number): string {
  return v >= 1000 ? `${(v / 1000).toFixed(1)}k` : String(Math.round(v));
}

interface LoadResult<C> {
  system: string;
  cell: C;
  metrics: { rps: Spread; p50_us: Spread; p99_us: Spread; errors: Spread };
}

/** One row per system and cell: the cell's columns (`columns`), then req/s, p50, p99 and errors. */
export function loadRows<C>(results: ReadonlyArray<LoadResult<C>>, columns: (cell: C) => Record<string, string | number>): Array<Record<string, string | number>> {
  return results.map((r) => ({
    system: r.system,
    ...columns(r.cell),
    'req/s': spreadText(r.metrics.rps, kilo),
    p50_us: spreadText(r.metrics.p50_us),
    p99_us: spreadText(r.metrics.p99_us),
    errors: r.metrics.errors.runs.reduce((a, b) => a + b, 0),
  }));
}
