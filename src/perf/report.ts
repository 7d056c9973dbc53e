// What `tensorgate perf` prints and writes: a perf_analyzer-style block per step, a summary table,
// CSV (one row per step, µs) and JSON (everything measured, with the run's settings).
import type { PerfOptions } from './options.js';
import type { StepResult } from './measure.js';

const us = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '-' : `${Math.round(v)} usec`);
const fixed = (v: number | undefined, d = 1): string => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d));

function levelName(r: StepResult): string {
  return r.mode === 'concurrency' ? `Concurrency: ${r.level}` : `Request rate: ${r.level}`;
}

/** The block printed after each step. */
export function stepText(r: StepResult, options: PerfOptions): string {
  const lines = [`${levelName(r)}${r.stable ? '' : `  (not stable within ${options.stabilityPercentage} % after ${r.windows} windows)`}`];
  lines.push('  Client:');
  lines.push(`    Request count: ${r.requests}${r.errors ? `, errors: ${r.errors} (first: ${r.firstError ?? '?'})` : ''}`);
  lines.push(`    Throughput: ${fixed(r.throughput, 1)} infer/sec`);
  if (options.percentile !== undefined) lines.push(`    p${options.percentile} latency: ${us(r.latencyUs.chosen)}`);
  lines.push(`    p50 latency: ${us(r.latencyUs.p50)}`, `    p90 latency: ${us(r.latencyUs.p90)}`, `    p95 latency: ${us(r.latencyUs.p95)}`, `    p99 latency: ${us(r.latencyUs.p99)}`);
  lines.push(`    Avg latency: ${us(r.latencyUs.avg)}${r.networkUs !== undefined ? ` (network + HTTP/gRPC + client ${us(r.networkUs)})` : ''}`);
  if (r.sendDelayUs) lines.push(`    Send delay against the schedule: avg ${us(r.sendDelayUs.avg)}, p99 ${us(r.sendDelayUs.p99)}`);
  lines.push(`    Client CPU per request: ${us(r.clientCpuUs)}`);
  const s = r.server;
  if (s) {
    lines.push('  Server:');
    lines.push(`    Successful requests: ${s.requests}, average batch: ${fixed(s.averageBatch, 2)}`);
    lines.push(
      `    Avg request latency: ${us(s.requestUs)} (overhead ${us(s.overheadUs)} + queue ${us(s.queueUs)} + compute input ${us(s.computeInputUs)} + compute infer ${us(s.computeInferUs)} + compute output ${us(s.computeOutputUs)})`,
    );
  }
  return lines.join('\n');
}

/** The summary table of every step. */
export function summaryTable(results: StepResult[], options: PerfOptions): string {
  const head = [results[0]?.mode === 'rate' ? 'Rate' : 'Concurrency', 'infer/sec', 'p50 us', 'p90 us', 'p95 us', 'p99 us', ...(options.percentile !== undefined ? [`p${options.percentile} us`] : []), 'avg us', 'queue us', 'compute us', 'overhead us', 'net+client us', 'batch', 'errors'];
  const rows = results.map((r) => [
    String(r.level),
    fixed(r.throughput, 1),
    fixed(r.latencyUs.p50, 0),
    fixed(r.latencyUs.p90, 0),
    fixed(r.latencyUs.p95, 0),
    fixed(r.latencyUs.p99, 0),
    ...(options.percentile !== undefined ? [fixed(r.latencyUs.chosen, 0)] : []),
    fixed(r.latencyUs.avg, 0),
    fixed(r.server?.queueUs, 0),
    fixed(r.server ? r.server.computeInputUs + r.server.computeInferUs + r.server.computeOutputUs : undefined, 0),
    fixed(r.server?.overheadUs, 0),
    fixed(r.networkUs, 0),
    fixed(r.server?.averageBatch, 2),
    String(r.errors),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** perf_analyzer's CSV (µs), with the server split as its columns name it and ours added. */
export function csv(results: StepResult[]): string {
  const head = [
    results[0]?.mode === 'rate' ? 'Request Rate' : 'Concurrency',
    'Inferences/Second',
    'Server Queue',
    'Server Compute Input',
    'Server Compute Infer',
    'Server Compute Output',
    'Server Overhead',
    'Network+Client',
    'p50 latency',
    'p90 latency',
    'p95 latency',
    'p99 latency',
    'Avg latency',
    'Errors',
  ];
  const n = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '' : String(Math.round(v)));
  const rows = results.map((r) =>
    [
      String(r.level),
      r.throughput.toFixed(2),
      n(r.server?.queueUs),
      n(r.server?.computeInputUs),
      n(r.server?.computeInferUs),
      n(r.server?.computeOutputUs),
      n(r.server?.overheadUs),
      n(r.networkUs),
      n(r.latencyUs.p50),
      n(r.latencyUs.p90),
      n(r.latencyUs.p95),
      n(r.latencyUs.p99),
      n(r.latencyUs.avg),
      String(r.errors),
    ].join(','),
  );
  return `${[head.join(','), ...rows].join('\n')}\n`;
}

export function json(results: StepResult[], options: PerfOptions, extra: Record<string, unknown>): string {
  const { inputData, shapes, headers: _headers, ...settings } = options;
  return `${JSON.stringify(
    {
      settings: { ...settings, shapes: Object.fromEntries(shapes), inputData: typeof inputData === 'string' ? inputData : inputData.file },
      ...extra,
      steps: results,
    },
    null,
    2,
  )}\n`;
}
