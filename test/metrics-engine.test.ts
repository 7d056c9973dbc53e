// ServerMetrics over a real engine Model: the exposition agrees with the native statistics, and the
// histogram bounds computed in TypeScript are the addon's.
import { describe, expect, it } from 'vitest';
import { nativeBinding } from '../src/engine/binding.js';
import { TensorgateError } from '../src/engine/index.js';
import { ServerMetrics, NATIVE_HISTOGRAM_BUCKETS, nativeBucketBound } from '../src/metrics/index.js';
import { slowBatchModel, tinyModel } from '../src/onnx/models.js';
import { occupy, rows, SLOW_SIZE, until } from './helpers/batching.js';
import { testEngine } from './helpers/engine.js';

/** The value of the sample `name{labels…}` (labels given as they appear in the text, in order). */
function value(body: string, name: string, labels: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('metrics over a real model', () => {
  it('computes the native histogram bounds as the addon does', () => {
    const bounds = nativeBinding().histogramBounds();
    expect(bounds).toHaveLength(NATIVE_HISTOGRAM_BUCKETS);
    bounds.forEach((b, i) => expect(Math.abs(nativeBucketBound(i) - b) / b).toBeLessThan(1e-12));
  });

  it('exports what the model’s stats() says', async () => {
    const model = await testEngine().load(tinyModel(), { maxBatchSize: 8, dynamicBatching: { maxQueueDelayMicroseconds: 2000 } });
    const metrics = new ServerMetrics({ defaultMetrics: false });
    metrics.trackModel('tiny', '1', model);
    const x = new Float32Array(16).fill(1);
    await Promise.all(Array.from({ length: 24 }, () => model.infer({ x: { shape: [1, 16], data: x } })));
    await model.unload();
    const late = await model.infer({ x: { shape: [1, 16], data: x } }).catch((e: unknown) => e);
    expect((late as TensorgateError).code).toBe('UNAVAILABLE');

    const s = model.stats();
    const { body } = await metrics.scrape();
    const L = 'model="tiny",version="1"';
    expect(value(body, 'nv_inference_request_success', L)).toBe(24);
    expect(value(body, 'nv_inference_count', L)).toBe(24);
    expect(value(body, 'nv_inference_exec_count', L)).toBe(s.executionCount);
    expect(s.executionCount).toBeLessThan(24); // batches formed
    expect(value(body, 'tensorgate_inflight_requests', L)).toBe(0);
    // Triton's pending count needs the addon's queue counter (absent from addons built before it: then no sample).
    if (s.queued !== undefined) expect(value(body, 'nv_inference_pending_request_count', L)).toBe(0);
    else expect(body).not.toMatch(/^nv_inference_pending_request_count\{/m);
    expect(value(body, 'nv_inference_request_failure', `${L},reason="unavailable"`)).toBe(1);
    expect(value(body, 'nv_inference_request_duration_us', L)).toBe(s.success.ns / 1e3);
    expect(value(body, 'nv_inference_compute_infer_duration_us', L)).toBe(s.computeInfer.ns / 1e3);
    expect(value(body, 'tensorgate_request_duration_seconds_count', L)).toBe(24);
    expect(value(body, 'tensorgate_request_duration_seconds_bucket', `${L},le="+Inf"`)).toBe(24);
    expect(value(body, 'tensorgate_queue_duration_seconds_count', L)).toBe(24);
    expect(value(body, 'tensorgate_compute_duration_seconds_count', L)).toBe(s.executionCount);
    expect(value(body, 'tensorgate_batch_size_count', L)).toBe(s.executionCount);
    expect(value(body, 'tensorgate_batch_size_sum', L)).toBe(24);
    expect(value(body, 'tensorgate_batch_size_bucket', `${L},le="8"`)).toBe(s.executionCount);
    expect(value(body, 'tensorgate_last_inference_timestamp_seconds', L)).toBeCloseTo(Date.now() / 1e3, -2);

    metrics.untrackModel('tiny', '1');
    expect((await metrics.scrape()).body).not.toContain('model="tiny"');
  });

  // Triton: "incremented at enqueue, decremented when a backend is about to start executing".
  const queueCounter = typeof nativeBinding().gpuDevices === 'function'; // built with the same addon change
  it.skipIf(!queueCounter)('nv_inference_pending_request_count is Triton’s: queued requests, not executing ones', async () => {
    const model = await testEngine().load(slowBatchModel({ ms: 40, size: SLOW_SIZE }), {
      maxBatchSize: 1,
      dynamicBatching: { maxQueueDelayMicroseconds: 0 },
      intraOpThreads: 1,
    });
    const metrics = new ServerMetrics({ defaultMetrics: false });
    metrics.trackModel('slow', '1', model);
    const L = 'model="slow",version="1"';
    const { running } = await occupy(model); // executing: in flight, not pending
    const queued = Array.from({ length: 5 }, () => model.infer({ x: { shape: [1, SLOW_SIZE], data: rows(1) } }));
    await until(() => model.stats().pending === 6, 'six accepted requests');
    const { body } = await metrics.scrape();
    // One runner, batches of one: while the first runs, at most five wait (four once the next has started).
    expect(value(body, 'nv_inference_pending_request_count', L)).toBeGreaterThanOrEqual(4);
    expect(value(body, 'nv_inference_pending_request_count', L)).toBeLessThanOrEqual(5);
    expect(value(body, 'tensorgate_inflight_requests', L)).toBe(6);
    await Promise.all([running, ...queued]);
    const after = await metrics.scrape();
    expect(value(after.body, 'nv_inference_pending_request_count', L)).toBe(0);
    await model.unload();
  });

  it.skipIf(!queueCounter)('reads GPUs through NVML loaded at run time: none here, and no nv_gpu_* series without one', async () => {
    const readings = nativeBinding().gpuDevices!();
    const metrics = new ServerMetrics({ defaultMetrics: false, gpu: () => nativeBinding().gpuDevices!() });
    const { body } = await metrics.scrape();
    if (!readings.available) {
      expect(readings.reason).toMatch(/libnvidia-ml|NVML|nvmlInit/);
      expect(readings.devices).toEqual([]);
      expect(body).not.toMatch(/^nv_gpu_/m);
    } else {
      for (const d of readings.devices) {
        expect(d.uuid).toMatch(/^GPU-/);
        expect(d.memoryTotalBytes).toBeGreaterThan(0);
        expect(body).toContain(`nv_gpu_memory_total_bytes{gpu_uuid="${d.uuid}"} ${d.memoryTotalBytes}`);
      }
    }
    // The machine's CPU and memory (Linux /proc), as Triton names them.
    expect(body).toMatch(/^nv_cpu_utilization \d/m);
    expect(body).toMatch(/^nv_cpu_memory_total_bytes \d+/m);
    expect(body).toMatch(/^nv_cpu_memory_used_bytes \d+/m);
  });
});
