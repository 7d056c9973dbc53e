// The report every optimization command ends with: a JSON document (written next to the output) and
// the same figures as tables on the terminal. Advisory flags call out accuracy a user should look at;
// --check thresholds turn the report into an exit code for CI.
import type { Comparison } from './compare.js';

export interface ModelFileInfo {
  path: string;
  bytes: number;
}

export interface CheckResult {
  expression: string;
  metric: string;
  value: number | null;
  passed: boolean;
}

export interface OptimizeReport {
  command: string;
  createdAt: string;
  original: ModelFileInfo;
  optimized: ModelFileInfo & { files: string[] };
  /** optimized bytes / original bytes. */
  sizeRatio: number;
  /** What the command did (per-command fields: weight bits and why, nodes rewritten, notes). */
  transform: Record<string, unknown>;
  comparison: Comparison;
  /** Accuracy findings worth a look even without --check. */
  flags: string[];
  checks: CheckResult[];
  passed: boolean;
  machine: Record<string, unknown>;
}

/** Advisory bounds: above them the report flags the output (they are what the tests hold). */
export const ADVISORY = { relRmse: 0.05, top1: 0.98 } as const;

export function accuracyFlags(c: Comparison): string[] {
  const flags: string[] = [];
  for (const a of c.accuracy) {
    if (a.nonFinite > 0) flags.push(`output '${a.output}': ${a.nonFinite} values are NaN or infinite in the new model`);
    else if (a.relRmse > ADVISORY.relRmse) flags.push(`output '${a.output}': relative RMSE ${fmt(a.relRmse)} exceeds ${ADVISORY.relRmse}`);
    if (a.top1 && a.top1.rate < ADVISORY.top1) flags.push(`output '${a.output}': top-1 agreement ${pct(a.top1.rate)} is below ${pct(ADVISORY.top1)}`);
    if (a.exactMatch !== undefined && a.exactMatch < 1) flags.push(`output '${a.output}': ${pct(1 - a.exactMatch)} of the integer values differ`);
  }
  return flags;
}

const METRICS: Record<string, { describe: string; value(r: OptimizeReport): number | null }> = {
  rel_rmse: { describe: 'worst relative RMSE over float outputs', value: (r) => worst(r, (a) => a.relRmse, Math.max) },
  max_abs: { describe: 'worst max absolute error', value: (r) => worst(r, (a) => a.maxAbsError, Math.max) },
  max_rel: { describe: 'worst max relative error', value: (r) => worst(r, (a) => a.maxRelError, Math.max) },
  top1: { describe: 'lowest top-1 agreement (0..1) over class-score outputs', value: (r) => worst(r, (a) => a.top1?.rate, Math.min) },
  speedup: { describe: 'p50 speedup at batch 1', value: (r) => r.comparison.latency[0]?.speedup ?? null },
  speedup_max_batch: { describe: 'p50 speedup at the max batch size', value: (r) => r.comparison.latency.at(-1)?.speedup ?? null },
  size_ratio: { describe: 'new file size / original', value: (r) => r.sizeRatio },
};

function worst(r: OptimizeReport, pick: (a: Comparison['accuracy'][number]) => number | undefined, f: (...v: number[]) => number): number | null {
  const values = r.comparison.accuracy.map(pick).filter((v): v is number => v !== undefined);
  return values.length ? f(...values) : null;
}

/** Validates a --check expression early (before any work), so a typo fails fast. */
export function parseCheck(expression: string): { metric: string; op: string; bound: number } | 'flags' {
  if (expression === 'flags') return 'flags';
  const m = /^\s*([a-z0-9_]+)\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$/i.exec(expression);
  if (!m || !METRICS[m[1]!]) {
    const known = Object.entries(METRICS).map(([k, v]) => `${k} (${v.describe})`).join(', ');
    throw new Error(`--check '${expression}': expected METRIC<=N or METRIC>=N (or 'flags': fail on any flag); metrics: ${known}`);
  }
  return { metric: m[1]!, op: m[2]!, bound: Number(m[3]) };
}

export function evaluateChecks(report: OptimizeReport, expressions: readonly string[]): CheckResult[] {
  return expressions.map((expression) => {
    const check = parseCheck(expression);
    if (check === 'flags') return { expression, metric: 'flags', value: report.flags.length, passed: report.flags.length === 0 };
    const value = METRICS[check.metric]!.value(report);
    const passed =
      value !== null &&
      Number.isFinite(value) &&
      (check.op === '<=' ? value <= check.bound : check.op === '>=' ? value >= check.bound : check.op === '<' ? value < check.bound : value > check.bound);
    return { expression, metric: check.metric, value, passed };
  });
}

// ---------------------------------------------------------------------------------------------
// Terminal tables

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 0.01 ? v.toPrecision(3) : v.toExponential(2);
}

function pct(v: number): string {
  return `${(100 * v).toFixed(1)} %`;
}

function bytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function formatReport(r: OptimizeReport): string {
  const c = r.comparison;
  const out: string[] = [];
  out.push(`Accuracy: ${c.samples} sample${c.samples === 1 ? '' : 's'} (${c.sampleSource})`);
  out.push(
    table(
      ['output', 'max abs err', 'max rel err', 'rel RMSE', 'top-1 agreement'],
      c.accuracy.map((a) => [
        a.output,
        fmt(a.maxAbsError),
        fmt(a.maxRelError),
        fmt(a.relRmse),
        a.top1 ? `${pct(a.top1.rate)} (${a.top1.agree}/${a.top1.total})` : a.exactMatch !== undefined ? `exact ${pct(a.exactMatch)}` : '-',
      ]),
    ),
  );
  out.push('');
  out.push(`Speed: p50 of ${c.runs} runs each, interleaved; load ${c.loadMs.baseline.toFixed(0)} ms → ${c.loadMs.candidate.toFixed(0)} ms`);
  out.push(
    table(
      ['', 'original', 'optimized', 'speedup'],
      [
        ...c.latency.map((l) => [`p50 batch ${l.batch}`, `${l.baselineP50Ms.toFixed(3)} ms`, `${l.candidateP50Ms.toFixed(3)} ms`, `${l.speedup.toFixed(2)}×`]),
        ['file size', bytes(r.original.bytes), bytes(r.optimized.bytes), `${r.sizeRatio.toFixed(2)}×`],
      ],
    ),
  );
  if (r.flags.length > 0) out.push('', ...r.flags.map((f) => `FLAG: ${f}`));
  for (const check of r.checks) out.push(`${check.passed ? 'PASS' : 'FAIL'} --check ${check.expression} (${check.metric} = ${check.value === null ? 'n/a' : fmt(check.value)})`);
  return `${out.join('\n')}\n`;
}
