// Metadata, health, statistics, repository index and model configuration bodies; error statuses
// and bodies; FP16 conversions. Pure functions: no engine, no server.
import { describe, expect, it } from 'vitest';
import type { NativeModelStats } from '../src/engine/binding.js';
import { TensorgateError, type ErrorCode } from '../src/engine/errors.js';
import { ProtocolError, badRequest, errorBody, errorMessage, httpStatusFor } from '../src/protocol/errors.js';
import { fromHalfBits, toHalfBits } from '../src/protocol/half.js';
import {
  modelMetadata,
  modelReady,
  modelStatistics,
  repositoryIndex,
  serverLive,
  serverMetadata,
  serverReady,
} from '../src/protocol/metadata.js';

describe('errors', () => {
  it('maps engine codes to HTTP statuses (Triton-style)', () => {
    const expected: Record<ErrorCode, number> = {
      INVALID_ARGUMENT: 400,
      QUEUE_FULL: 503,
      TIMEOUT: 503,
      ABORTED: 400,
      UNAVAILABLE: 503,
      MODEL_LOAD_FAILED: 400,
      ORT_ERROR: 500,
      INTERNAL: 500,
    };
    for (const [code, status] of Object.entries(expected)) {
      expect(httpStatusFor(new TensorgateError(code as ErrorCode, 'x')), code).toBe(status);
    }
    expect(httpStatusFor(new TensorgateError('ORT_ERROR', 'bad dims', 'ORT_INVALID_ARGUMENT'))).toBe(400);
    expect(httpStatusFor(new TensorgateError('ORT_ERROR', 'runtime', 'ORT_RUNTIME_EXCEPTION'))).toBe(500);
  });

  it('ProtocolError carries its status; anything else is 500', () => {
    expect(httpStatusFor(new ProtocolError(404, 'no model'))).toBe(404);
    expect(httpStatusFor(new ProtocolError(413, 'too large'))).toBe(413);
    expect(httpStatusFor(badRequest('bad'))).toBe(400);
    expect(badRequest('bad')).toBeInstanceOf(Error);
    expect(badRequest('bad').name).toBe('ProtocolError');
    expect(httpStatusFor(new Error('boom'))).toBe(500);
    expect(httpStatusFor('string')).toBe(500);
    expect(httpStatusFor(undefined)).toBe(500);
  });

  it('error bodies are {"error": message}', () => {
    const body = errorBody('input \'x\': "quoted"\nline');
    expect(Buffer.isBuffer(body)).toBe(true);
    expect(JSON.parse(body.toString())).toEqual({ error: 'input \'x\': "quoted"\nline' });
    expect(errorMessage(new Error('m'))).toBe('m');
    expect(errorMessage(42)).toBe('42');
  });
});

describe('server and model metadata', () => {
  it('server metadata and health bodies', () => {
    expect(serverMetadata('0.1.0', ['binary_tensor_data', 'statistics'])).toEqual({
      name: 'tensorgate',
      version: '0.1.0',
      extensions: ['binary_tensor_data', 'statistics'],
    });
    expect(serverLive(true)).toEqual({ live: true });
    expect(serverReady(false)).toEqual({ ready: false });
    expect(modelReady('m', true)).toEqual({ name: 'm', ready: true });
  });

  it('model metadata: platform onnx_onnxv1, -1 for dynamic dims, only the v2 fields', () => {
    const meta = modelMetadata(
      'resnet',
      ['1', '2'],
      [{ name: 'x', datatype: 'FP32', shape: [-1, 3, 224, 224], dimNames: ['N', null, null, null] } as never],
      [{ name: 'y', datatype: 'FP32', shape: [-1, 1000] }],
    );
    expect(meta).toEqual({
      name: 'resnet',
      versions: ['1', '2'],
      platform: 'onnx_onnxv1',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, 224, 224] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 1000] }],
    });
    expect(Object.keys(meta)).toEqual(['name', 'versions', 'platform', 'inputs', 'outputs']);
  });
});

const d = (count: number, ns: number) => ({ count, ns });

function stats(): NativeModelStats {
  return {
    pending: 0,
    inferenceCount: 12,
    executionCount: 5,
    lastInferenceMs: 1_700_000_000_123,
    success: d(10, 5_000_000),
    fail: d(2, 40_000),
    failures: { queueFull: 1, timeout: 1, cancelled: 0, unavailable: 0, invalid: 0, backend: 0 },
    queue: d(10, 1_000_000),
    computeInput: d(10, 200_000),
    computeInfer: d(10, 3_000_000),
    computeOutput: d(10, 100_000),
    batches: [
      { batchSize: 4, executions: 2, computeInput: d(2, 80_000), computeInfer: d(2, 1_600_000), computeOutput: d(2, 40_000) },
      { batchSize: 1, executions: 3, computeInput: d(3, 120_000), computeInfer: d(3, 1_400_000), computeOutput: d(3, 60_000) },
      { batchSize: 2, executions: 0, computeInput: d(0, 0), computeInfer: d(0, 0), computeOutput: d(0, 0) },
    ],
    histograms: { request: [], queue: [], compute: [] },
  };
}

describe('statistics extension', () => {
  it("Triton's model_stats shape exactly", () => {
    const body = modelStatistics([{ name: 'm', version: '1', stats: stats() }]);
    expect(body).toEqual({
      model_stats: [
        {
          name: 'm',
          version: '1',
          last_inference: 1_700_000_000_123,
          inference_count: 12,
          execution_count: 5,
          inference_stats: {
            success: { count: 10, ns: 5_000_000 },
            fail: { count: 2, ns: 40_000 },
            queue: { count: 10, ns: 1_000_000 },
            compute_input: { count: 10, ns: 200_000 },
            compute_infer: { count: 10, ns: 3_000_000 },
            compute_output: { count: 10, ns: 100_000 },
            cache_hit: { count: 0, ns: 0 },
            cache_miss: { count: 0, ns: 0 },
          },
          response_stats: {},
          batch_stats: [
            { batch_size: 1, compute_input: { count: 3, ns: 120_000 }, compute_infer: { count: 3, ns: 1_400_000 }, compute_output: { count: 3, ns: 60_000 } },
            { batch_size: 4, compute_input: { count: 2, ns: 80_000 }, compute_infer: { count: 2, ns: 1_600_000 }, compute_output: { count: 2, ns: 40_000 } },
          ],
          memory_usage: [],
        },
      ],
    });
    const stat = body.model_stats[0]!;
    // Field order as Triton writes it.
    expect(Object.keys(stat)).toEqual([
      'name',
      'version',
      'last_inference',
      'inference_count',
      'execution_count',
      'inference_stats',
      'response_stats',
      'batch_stats',
      'memory_usage',
    ]);
    expect(Object.keys(stat.inference_stats)).toEqual([
      'success',
      'fail',
      'queue',
      'compute_input',
      'compute_infer',
      'compute_output',
      'cache_hit',
      'cache_miss',
    ]);
    // JSON round trip: nothing that JSON.stringify drops or changes.
    expect(JSON.parse(JSON.stringify(body))).toEqual(body);
  });

  it('cache hits count in success and queue (as Triton), not in compute or inference_count', () => {
    const body = modelStatistics([
      { name: 'm', version: '3', stats: stats(), cache: { hits: d(4, 8_000), misses: d(10, 30_000) } },
    ]);
    const s = body.model_stats[0]!;
    expect(s.inference_count).toBe(12);
    expect(s.execution_count).toBe(5);
    expect(s.inference_stats.success).toEqual({ count: 14, ns: 5_008_000 });
    expect(s.inference_stats.queue).toEqual({ count: 14, ns: 1_000_000 });
    expect(s.inference_stats.compute_infer).toEqual({ count: 10, ns: 3_000_000 });
    expect(s.inference_stats.cache_hit).toEqual({ count: 4, ns: 8_000 });
    expect(s.inference_stats.cache_miss).toEqual({ count: 10, ns: 30_000 });
  });

  it('several models, and none', () => {
    expect(modelStatistics([])).toEqual({ model_stats: [] });
    const body = modelStatistics([
      { name: 'a', version: '1', stats: stats() },
      { name: 'b', version: '2', stats: stats() },
    ]);
    expect(body.model_stats.map((m) => `${m.name}/${m.version}`)).toEqual(['a/1', 'b/2']);
  });
});

describe('repository index', () => {
  it('an array of {name, version?, state, reason?}', () => {
    const index = repositoryIndex([
      { name: 'a', version: '1', state: 'READY' },
      { name: 'b', state: 'UNAVAILABLE', reason: 'unloaded' },
      { name: 'c', version: '', state: 'LOADING', reason: '' },
    ]);
    expect(index).toEqual([
      { name: 'a', version: '1', state: 'READY' },
      { name: 'b', state: 'UNAVAILABLE', reason: 'unloaded' },
      { name: 'c', state: 'LOADING' },
    ]);
    expect(Object.keys(index[1]!)).toEqual(['name', 'state', 'reason']);
  });
});

describe('FP16 conversions', () => {
  it('every half round-trips through a number (NaNs to the quiet NaN)', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = fromHalfBits(bits);
      const back = toHalfBits(value);
      if (Number.isNaN(value)) expect(back).toBe(0x7e00);
      else if (back !== bits) expect.fail(`half 0x${bits.toString(16)} (${value}) came back as 0x${back.toString(16)}`);
    }
  });

  it('known values', () => {
    expect(fromHalfBits(0x3c00)).toBe(1);
    expect(fromHalfBits(0xc000)).toBe(-2);
    expect(fromHalfBits(0x7bff)).toBe(65504);
    expect(fromHalfBits(0x0001)).toBe(2 ** -24);
    expect(fromHalfBits(0x03ff)).toBe(1023 * 2 ** -24);
    expect(fromHalfBits(0x0400)).toBe(2 ** -14);
    expect(fromHalfBits(0x7c00)).toBe(Infinity);
    expect(fromHalfBits(0xfc00)).toBe(-Infinity);
    expect(Object.is(fromHalfBits(0x8000), -0)).toBe(true);
    expect(toHalfBits(-0)).toBe(0x8000);
    expect(toHalfBits(Infinity)).toBe(0x7c00);
    expect(toHalfBits(-Infinity)).toBe(0xfc00);
    expect(toHalfBits(NaN)).toBe(0x7e00);
    expect(toHalfBits(1e-300)).toBe(0);
    expect(toHalfBits(-1e-300)).toBe(0x8000);
  });

  it('rounds to nearest, ties to even, straight from the double (no float32 double rounding)', () => {
    // Random doubles over the whole half range: the result is a nearest half.
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 20000; i++) {
      const v = (random() - 0.5) * 2 * 2 ** (random() * 40 - 26);
      const h = toHalfBits(v);
      const got = fromHalfBits(h);
      const up = fromHalfBits(h + 1);
      const down = fromHalfBits(h - 1);
      const err = Math.abs(v - got);
      if (Number.isFinite(up) && (h & 0x7fff) !== 0x7bff) expect(err).toBeLessThanOrEqual(Math.abs(v - up));
      if (Number.isFinite(down) && (h & 0x7fff) !== 0) expect(err).toBeLessThanOrEqual(Math.abs(v - down));
    }
    // Just above a tie: a float32 step would round it onto the tie and then to even (down).
    const tieAbove = 1 + 2 ** -11 + 2 ** -40;
    expect(Math.fround(tieAbove)).toBe(1 + 2 ** -11);
    expect(toHalfBits(tieAbove)).toBe(0x3c01);
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00);
    // Subnormal ties.
    expect(toHalfBits(1.5 * 2 ** -24)).toBe(0x0002);
    expect(toHalfBits(2.5 * 2 ** -24)).toBe(0x0002);
    expect(toHalfBits(2.5 * 2 ** -24 + 2 ** -60)).toBe(0x0003);
    // The largest subnormal rounds up into the smallest normal.
    expect(toHalfBits(1023.5 * 2 ** -24)).toBe(0x0400);
  });
});
