// Spans to an OpenTelemetry collector: OTLP over HTTP (JSON), through OpenTelemetry JS 2.x's batch span
// processor and OTLP exporter (the 2.x line runs on Node 20; 3.x needs 22.15). We use the SDK for
// what is hard to get right (batching, retries with backoff on 429/5xx, timeouts, the standard
// OTEL_EXPORTER_OTLP_* variables for headers, TLS and compression), not its tracer: the spans are
// built after the request from its context (spans.ts) and handed to the processor as finished spans,
// with our own ids and times. No global provider, context manager or propagator is installed, and the
// SDK is only imported once tracing is configured.
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { HrTime } from '@opentelemetry/api';
import type { ExportSettings } from './settings.js';
import type { SpanRecord } from './spans.js';

export interface SpanSink {
  /** Queues a finished trace for export (never blocks, never throws). */
  export(traceId: string, tracestate: string | undefined, spans: SpanRecord[]): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** Export outcomes, for the metrics. */
export interface ExportCounts {
  exported: number;
  failed: number;
}

/** nowNs() (performance.now() in ns) as OpenTelemetry's [seconds, nanoseconds] since the Unix epoch. */
export function toHrTime(perfNs: number): HrTime {
  const originMs = performance.timeOrigin;
  const originS = Math.floor(originMs / 1000);
  const ns = Math.round((originMs - originS * 1000) * 1e6 + perfNs);
  const s = Math.floor(ns / 1e9);
  return [originS + s, ns - s * 1e9];
}

function hrDiff(a: HrTime, b: HrTime): HrTime {
  let s = b[0] - a[0];
  let n = b[1] - a[1];
  if (n < 0) {
    s -= 1;
    n += 1e9;
  }
  return [s, n];
}

export interface OtlpSinkOptions {
  settings: ExportSettings;
  /** tensorgate's version (service.version, and the instrumentation scope's). */
  version: string;
  counts: ExportCounts;
  /** An exporter to use instead of OTLP/HTTP (tests, or an embedding application's own). */
  exporter?: SpanExporter;
  /** Told of each failed export (after the exporter's own retries). */
  onFailure?: (error: Error | undefined, spans: number) => void;
}

export async function createOtlpSink(options: OtlpSinkOptions): Promise<SpanSink> {
  const [{ BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }, { SpanKind, SpanStatusCode, TraceFlags }, { TraceState }] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
  ]);
  const { settings, counts } = options;
  const inner: SpanExporter = options.exporter ?? new OTLPTraceExporter(settings.url !== undefined ? { url: settings.url } : {});
  const counting: SpanExporter = {
    export(spans, done) {
      inner.export(spans, (result) => {
        if (result.code === 0) counts.exported += spans.length;
        else {
          counts.failed += spans.length;
          options.onFailure?.(result.error, spans.length);
        }
        done(result);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
  const processor = new BatchSpanProcessor(counting, {
    maxQueueSize: settings.bspMaxQueueSize,
    scheduledDelayMillis: settings.bspScheduleDelayMs,
    maxExportBatchSize: settings.bspMaxExportBatchSize,
  });
  const resource = resourceFromAttributes({
    'service.name': process.env.OTEL_SERVICE_NAME || 'tensorgate',
    'service.version': options.version,
    ...settings.resource,
  });
  const scope = { name: 'tensorgate', version: options.version };
  return {
    export(traceId, tracestate, spans) {
      const traceState = tracestate !== undefined ? new TraceState(tracestate) : undefined;
      for (const s of spans) {
        const startTime = toHrTime(s.startNs);
        const endTime = toHrTime(s.endNs);
        const context = { traceId, spanId: s.spanId, traceFlags: TraceFlags.SAMPLED, ...(traceState ? { traceState } : {}) };
        const span: ReadableSpan = {
          name: s.name,
          kind: s.kind === 'server' ? SpanKind.SERVER : SpanKind.INTERNAL,
          spanContext: () => context,
          ...(s.parentSpanId !== undefined
            ? { parentSpanContext: { traceId, spanId: s.parentSpanId, traceFlags: TraceFlags.SAMPLED, isRemote: s.kind === 'server' } }
            : {}),
          startTime,
          endTime,
          duration: hrDiff(startTime, endTime),
          status: s.error !== undefined ? { code: SpanStatusCode.ERROR, message: s.error } : { code: SpanStatusCode.UNSET },
          attributes: s.attributes,
          links: [],
          events: [],
          ended: true,
          resource,
          instrumentationScope: scope,
          droppedAttributesCount: 0,
          droppedEventsCount: 0,
          droppedLinksCount: 0,
        };
        processor.onEnd(span);
      }
    },
    forceFlush: () => processor.forceFlush(),
    shutdown: () => processor.shutdown(),
  };
}
