// `tensorgate perf`: a load client in the style of Triton's perf_analyzer, to size deployments. It
// sweeps concurrency (closed loop) or request rate (open loop), measures each step until stable, and
// reports throughput, client latency percentiles and the server's split of a request.
import { writeFileSync } from 'node:fs';
import type { Command } from '../cli/commands.js';
import { GrpcTarget } from './grpc-target.js';
import { HttpTarget } from './http-target.js';
import { grpcPayload, httpPayload, inputSets } from './inputs.js';
import { measureStep, type StepResult } from './measure.js';
import { parsePerfArgs, PERF_USAGE, type PerfOptions } from './options.js';
import { Progress } from './progress.js';
import { csv, json, stepText, summaryTable } from './report.js';
import { latencyThroughputSvg } from './svg.js';
import type { Target } from './target.js';

export interface PerfRun {
  steps: StepResult[];
  /** Rows per request (the batch size when the model batches, else 1). */
  batchRows: number;
}

/** Runs a sweep; `log` receives the human-readable output. Exported for tests and benchmarks. */
export async function runPerf(options: PerfOptions, log: (text: string) => void = (t) => process.stdout.write(`${t}\n`)): Promise<PerfRun> {
  const target: Target = options.protocol === 'http' ? new HttpTarget(options.url, options.model, options.version, options.headers) : new GrpcTarget(options.url, options.model, options.version, options.headers);
  try {
    const info = await target.info();
    const sets = inputSets(info, options);
    const payloads = sets.map((tensors) => (options.protocol === 'http' ? httpPayload(tensors, info, options) : grpcPayload(tensors, options)));
    const batchRows = info.maxBatchSize > 0 ? options.batchSize : 1;
    const mode = options.concurrency ? 'concurrency' : 'rate';
    const levels = options.concurrency ?? options.rates!;
    log(`*** Measurement Settings ***
  Model: ${options.model}${options.version !== undefined ? ` version ${options.version}` : ''} over ${options.protocol.toUpperCase()} at ${options.url}
  Inputs: ${sets[0]!.map((t) => `${t.name} ${t.datatype}[${t.shape.join(',')}]`).join(', ')} (${typeof options.inputData === 'string' ? options.inputData : `${sets.length} sets from ${options.inputData.file}`}, ${options.protocol === 'http' ? `${options.inputFormat} tensors` : 'raw contents'})
  Measurement window: ${options.measurementIntervalMs} ms, stable when the last 3 agree within ${options.stabilityPercentage} % on throughput and ${options.percentile !== undefined ? `p${options.percentile}` : 'average'} latency (at most ${options.maxTrials} windows)
  ${mode === 'concurrency' ? 'Closed loop: concurrency' : `Open loop (${options.distribution} arrivals): request rate`} ${levels.join(', ')}
`);
    const progress = new Progress(!options.quiet);
    const steps: StepResult[] = [];
    for (const [i, level] of levels.entries()) {
      const label = mode === 'concurrency' ? `concurrency ${level}` : `rate ${level}/s`;
      const result = await measureStep(target, payloads, options, mode, level, batchRows, (state) => progress.show(i + 1, levels.length, label, state));
      progress.clear();
      steps.push(result);
      log(stepText(result, options));
      log('');
    }
    log('*** Summary (µs) ***');
    log(summaryTable(steps, options));
    return { steps, batchRows };
  } finally {
    await target.close();
  }
}

export const PERF_COMMAND: Command = {
  summary: 'load a running server (perf_analyzer style): throughput, latency percentiles, server split',
  async run(argv: string[]): Promise<number> {
    let options: PerfOptions | 'help';
    try {
      options = parsePerfArgs(argv);
    } catch (err) {
      process.stderr.write(`tensorgate perf: ${(err as Error).message}\n\n${PERF_USAGE}`);
      return 2;
    }
    if (options === 'help') {
      process.stdout.write(PERF_USAGE);
      return 0;
    }
    let run: PerfRun;
    try {
      run = await runPerf(options);
    } catch (err) {
      process.stderr.write(`tensorgate perf: ${(err as Error).message}\n`);
      return 1;
    }
    const title = `${options.model} over ${options.protocol.toUpperCase()}: latency against throughput`;
    if (options.csv) writeFileSync(options.csv, csv(run.steps));
    if (options.json) writeFileSync(options.json, json(run.steps, options, { batchRows: run.batchRows, date: new Date().toISOString() }));
    if (options.svg) writeFileSync(options.svg, latencyThroughputSvg(run.steps, title));
    const errors = run.steps.reduce((n, s) => n + s.errors, 0);
    if (errors > 0) process.stderr.write(`tensorgate perf: ${errors} requests failed (first: ${run.steps.find((s) => s.firstError)?.firstError})\n`);
    return errors > 0 ? 1 : 0;
  },
};
