// `tensorgate perf`: its ranges and options, its statistics, and sweeps against a real server over
// HTTP and gRPC (closed and open loop) whose counts agree with the server's own statistics, with the
// CSV, JSON and SVG it writes. Windows are short: these pin behaviour, not figures.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModel, transformerEncoderModel } from '../src/onnx/models.js';
import { agree, serverSplit, summarize } from '../src/perf/measure.js';
import { inputSets } from '../src/perf/inputs.js';
import { seededRandom as random } from '../src/onnx/sample-data.js';
import { parsePerfArgs, type PerfOptions } from '../src/perf/options.js';
import { PERF_COMMAND, runPerf } from '../src/perf/perf-command.js';
import { parseRange } from '../src/perf/ranges.js';
import { DEFAULT_ENGINE, makeRepository, serve, type TestServer } from './helpers/http-server.js';
import { freePort } from './helpers/fixtures.js';

const opts = (argv: string[]): PerfOptions => {
  const o = parsePerfArgs(argv);
  if (o === 'help') throw new Error('help');
  return o;
};
const quick = ['-p', '150', '--warmup-interval', '50', '--max-trials', '3', '-q'];

describe('ranges and options', () => {
  it('walks perf_analyzer ranges linearly, or geometrically with xF', () => {
    expect(parseRange('4', '--concurrency-range')).toEqual([4]);
    expect(parseRange('1:4', '--concurrency-range')).toEqual([1, 2, 3, 4]);
    expect(parseRange('1:16:4', '--concurrency-range')).toEqual([1, 5, 9, 13]);
    expect(parseRange('1:64:x2', '--concurrency-range')).toEqual([1, 2, 4, 8, 16, 32, 64]);
    expect(parseRange('100:1000:x3', '--request-rate-range')).toEqual([100, 300, 900]);
    for (const bad of ['0:4', '4:1', '1:4:0', '1:4:x1', 'a', '1:2:3:4', '1::2']) expect(() => parseRange(bad, '--concurrency-range')).toThrow(/--concurrency-range/);
  });

  it('takes perf_analyzer’s flags and refuses what it cannot use, naming the flag', () => {
    const o = opts(['-m', 'tiny', '-u', 'http://host:9000/', '-b', '4', '--shape', 'x:3,64', '--percentile', '95', '-H', 'Authorization: Bearer t']);
    expect(o).toMatchObject({ model: 'tiny', url: 'host:9000', protocol: 'http', batchSize: 4, concurrency: [1], percentile: 95, headers: { authorization: 'Bearer t' } });
    expect(o.shapes.get('x')).toEqual([3, 64]);
    expect(opts(['-m', 'm', '-i', 'grpc']).url).toBe('localhost:8001');
    expect(opts(['-m', 'm', '--request-rate-range', '10:40:10']).rates).toEqual([10, 20, 30, 40]);
    expect(() => opts([])).toThrow(/--model-name is required/);
    expect(() => opts(['-m', 'm', '--concurrency-range', '1', '--request-rate-range', '5'])).toThrow(/one of them/);
    expect(() => opts(['-m', 'm', '-i', 'udp'])).toThrow(/--protocol udp: expected http or grpc/);
    expect(() => opts(['-m', 'm', '--shape', 'x'])).toThrow(/--shape x: expected NAME:D1,D2/);
    expect(() => opts(['-m', 'm', '--percentile', '100'])).toThrow(/--percentile 100/);
    expect(() => opts(['-m', 'm', '--input-data', '/nonexistent.json'])).toThrow(/--input-data \/nonexistent.json/);
  });

  it('fills inputs from the metadata, --shape and -b, and checks an --input-data file', () => {
    const info = { inputs: [{ name: 'x', datatype: 'FP32' as const, shape: [-1, -1, 64] }], outputs: ['y'], maxBatchSize: 8 };
    expect(() => inputSets(info, opts(['-m', 'e']))).toThrow(/input 'x' has dims that are not fixed \(\[-1,64\] without the batch dimension\): give --shape x:/);
    const [set] = inputSets(info, opts(['-m', 'e', '--shape', 'x:5,64', '-b', '2']));
    expect(set![0]!.shape).toEqual([2, 5, 64]);
    expect(set![0]!.data).toHaveLength(640);
    expect(() => inputSets(info, opts(['-m', 'e', '--shape', 'x:5,32']))).toThrow(/does not fit the model's \[-1,64\]/);
    const file = join(mkdtempSync(join(tmpdir(), 'tg-perf-')), 'in.json');
    writeFileSync(file, JSON.stringify({ data: [{ x: { content: new Array(128).fill(1), shape: [1, 2, 64] } }, { x: { content: [1, 2], shape: [1, 1, 2] } }] }));
    expect(() => inputSets({ ...info, inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, -1, 2] }] }, opts(['-m', 'e', '--input-data', file]))).not.toThrow();
    expect(() => inputSets(info, opts(['-m', 'e', '--input-data', file]))).not.toThrow(); // shapes come with the data
    writeFileSync(file, JSON.stringify({ data: [{ x: [1, 2, 3] }] }));
    expect(() => inputSets({ ...info, inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }] }, opts(['-m', 'e', '--input-data', file]))).toThrow(/needs 4 values for shape \[1,4\], got 3/);
  });
});

describe('statistics', () => {
  it('summarizes latencies, decides stability, and splits the server’s time per request', () => {
    const s = summarize(Float64Array.from({ length: 100 }, (_, i) => i + 1), 99);
    expect(s).toMatchObject({ avg: 50.5, p50: 50, p90: 90, p95: 95, p99: 99, chosen: 99 });
    expect(agree([100, 105, 95], 10)).toBe(true);
    expect(agree([100, 120, 95], 10)).toBe(false);
    const zero = { success: 0, successNs: 0, queueNs: 0, computeInputNs: 0, computeInferNs: 0, computeOutputNs: 0, inferences: 0, executions: 0 };
    const split = serverSplit(zero, { success: 10, successNs: 10_000_000, queueNs: 2_000_000, computeInputNs: 1_000_000, computeInferNs: 5_000_000, computeOutputNs: 1_000_000, inferences: 20, executions: 5 });
    expect(split).toEqual({ requests: 10, requestUs: 1000, queueUs: 200, computeInputUs: 100, computeInferUs: 500, computeOutputUs: 100, overheadUs: 100, averageBatch: 4 });
    expect(serverSplit(zero, zero)).toBeUndefined();
  });

  it('draws Poisson gaps with the asked mean from a seeded generator (10,000 draws, mean within 3 %)', () => {
    const u = random(7);
    let sum = 0;
    for (let i = 0; i < 10_000; i++) sum += -Math.log(1 - u());
    expect(Math.abs(sum / 10_000 - 1)).toBeLessThan(0.03);
    expect(random(7)()).toBe(random(7)());
  });
});

describe('against a server', () => {
  let server: TestServer;
  let grpcPort: number;
  beforeAll(async () => {
    grpcPort = await freePort();
    server = await serve(DEFAULT_ENGINE, {
      modelRepository: makeRepository({ tiny: { bytes: tinyModel() }, encoder: { bytes: transformerEncoderModel() } }),
      grpcPort,
    });
  });
  afterAll(() => server.stop());

  it('sweeps concurrency over HTTP: every answer counted, and the server saw the same requests', async () => {
    const before = server.model('tiny').stats().success.count;
    const lines: string[] = [];
    const run = await runPerf(opts(['-m', 'tiny', '-u', `127.0.0.1:${server.port}`, '--concurrency-range', '1:4:x2', ...quick]), (t) => lines.push(t));
    expect(run.steps.map((s) => s.level)).toEqual([1, 2, 4]);
    for (const s of run.steps) {
      expect(s.errors).toBe(0);
      expect(s.requests).toBeGreaterThan(0);
      expect(s.throughput).toBeGreaterThan(0);
      expect(s.latencyUs.p50).toBeLessThanOrEqual(s.latencyUs.p99);
      // The server counted the requests of the measured windows: its statistics are read at the window
      // edges, so up to `level` answers in flight across an edge fall on the other side.
      expect(s.server!.requests).toBeGreaterThanOrEqual(s.requests - s.level);
      expect(s.server!.queueUs + s.server!.computeInferUs).toBeLessThanOrEqual(s.server!.requestUs + 1);
      expect(s.clientCpuUs).toBeGreaterThan(0);
    }
    expect(server.model('tiny').stats().success.count - before).toBeGreaterThanOrEqual(run.steps.reduce((n, s) => n + s.requests, 0));
    const text = lines.join('\n');
    expect(text).toContain('Concurrency: 4');
    expect(text).toMatch(/Avg request latency: \d+ usec \(overhead \d+ usec \+ queue \d+ usec \+ compute input/);
    expect(text).toContain('*** Summary (µs) ***');
  });

  it('runs an open loop over gRPC with Poisson arrivals, JSON tensors over HTTP with --shape and -b', async () => {
    const grpc = await runPerf(opts(['-m', 'tiny', '-i', 'grpc', '-u', `127.0.0.1:${grpcPort}`, '--request-rate-range', '100:200:x2', '--request-distribution', 'poisson', ...quick]), () => undefined);
    expect(grpc.steps.map((s) => [s.mode, s.level, s.errors])).toEqual([
      ['rate', 100, 0],
      ['rate', 200, 0],
    ]);
    for (const s of grpc.steps) {
      expect(s.requests).toBeGreaterThan(0);
      expect(s.sendDelayUs!.p99).toBeGreaterThanOrEqual(0);
      expect(s.server!.requests).toBeGreaterThan(0);
    }
    const http = await runPerf(opts(['-m', 'encoder', '-u', `127.0.0.1:${server.port}`, '--shape', 'x:4,64', '-b', '3', '--input-tensor-format', 'json', '--output-tensor-format', 'json', ...quick]), () => undefined);
    expect(http.batchRows).toBe(3);
    expect(http.steps[0]!.errors).toBe(0);
    expect(http.steps[0]!.server!.averageBatch).toBeGreaterThanOrEqual(3); // every request carries 3 rows
  });

  it('the command writes CSV, JSON and the SVG picture, and reports failed requests with exit code 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-perf-'));
    const files = { csv: join(dir, 'r.csv'), json: join(dir, 'r.json'), svg: join(dir, 'r.svg') };
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    let code: number;
    try {
      code = await PERF_COMMAND.run(['-m', 'tiny', '-u', `127.0.0.1:${server.port}`, '--concurrency-range', '1:2', ...quick, '-f', files.csv, '--json', files.json, '--svg', files.svg]);
    } finally {
      process.stdout.write = write;
    }
    expect(code).toBe(0);
    const csvLines = readFileSync(files.csv, 'utf8').trim().split('\n');
    expect(csvLines[0]).toBe('Concurrency,Inferences/Second,Server Queue,Server Compute Input,Server Compute Infer,Server Compute Output,Server Overhead,Network+Client,p50 latency,p90 latency,p95 latency,p99 latency,Avg latency,Errors');
    expect(csvLines.slice(1).map((l) => l.split(',')[0])).toEqual(['1', '2']);
    const report = JSON.parse(readFileSync(files.json, 'utf8'));
    expect(report.settings).toMatchObject({ model: 'tiny', protocol: 'http', concurrency: [1, 2] });
    expect(report.steps).toHaveLength(2);
    const svg = readFileSync(files.svg, 'utf8');
    expect(svg).toMatch(/^<svg /);
    expect(svg).toContain('c=2');
    // A model that does not exist: the metadata call fails, exit 1 with the server's message.
    const err = process.stderr.write;
    let stderr = '';
    process.stderr.write = ((t: string) => ((stderr += t), true)) as typeof process.stderr.write;
    try {
      expect(await PERF_COMMAND.run(['-m', 'nope', '-u', `127.0.0.1:${server.port}`, ...quick])).toBe(1);
    } finally {
      process.stderr.write = err;
    }
    expect(stderr).toMatch(/GET \/v2\/models\/nope: HTTP 404/);
  });
});
