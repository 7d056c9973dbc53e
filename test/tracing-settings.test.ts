// Tracing's parsers: W3C traceparent validity, Triton's --trace-config forms and the settings API's
// bodies, with the messages a user sees.
import { describe, expect, it } from 'vitest';
import { parsePatch, parseTraceConfig } from '../src/tracing/settings.js';
import { formatTraceparent, newSpanId, newTraceId, parseTraceparent, traceHeaders } from '../src/tracing/traceparent.js';
import { toHrTime } from '../src/tracing/otlp.js';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';

describe('W3C traceparent', () => {
  it('reads version 00 and later versions, sampled or not', () => {
    expect(parseTraceparent(`00-${T}-${S}-01`, ' k=v ')).toEqual({ traceId: T, spanId: S, sampled: true, tracestate: 'k=v' });
    expect(parseTraceparent(`00-${T}-${S}-00`)?.sampled).toBe(false);
    expect(parseTraceparent(`00-${T}-${S}-03`)?.sampled).toBe(true); // other flag bits ignored
    expect(parseTraceparent(`01-${T}-${S}-01-future-fields`)?.traceId).toBe(T);
  });

  it('refuses what the spec calls invalid', () => {
    for (const bad of [
      '',
      `00-${T}-${S}`,
      `ff-${T}-${S}-01`,
      `00-${'0'.repeat(32)}-${S}-01`,
      `00-${T}-${'0'.repeat(16)}-01`,
      `00-${T.toUpperCase()}-${S}-01`,
      `00-${T}-${S}-01-extra`, // version 00 carries nothing more
      `01-${T}-${S}-01x`,
      `00_${T}_${S}_01`,
      `zz-${T}-${S}-01`,
    ]) {
      expect(parseTraceparent(bad), bad).toBeUndefined();
    }
    expect(parseTraceparent(undefined)).toBeUndefined();
  });

  it('writes what it reads, with fresh non-zero ids', () => {
    const t = newTraceId();
    const s = newSpanId();
    expect(t).toMatch(/^[0-9a-f]{32}$/);
    expect(s).toMatch(/^[0-9a-f]{16}$/);
    expect(parseTraceparent(formatTraceparent(t, s, true))).toEqual({ traceId: t, spanId: s, sampled: true, tracestate: undefined });
    expect(traceHeaders({ traceId: T, spanId: S, tracestate: undefined })).toEqual({ traceparent: `00-${T}-${S}-01` });
    expect(traceHeaders({ traceId: T, spanId: S, tracestate: 'a=b' })).toEqual({ traceparent: `00-${T}-${S}-01`, tracestate: 'a=b' });
  });

  it('converts the monotonic clock to Unix time to the nanosecond', () => {
    const [s, n] = toHrTime(performance.now() * 1e6);
    expect(Math.abs(s * 1000 + n / 1e6 - Date.now())).toBeLessThan(50);
    expect(n).toBeGreaterThanOrEqual(0);
    expect(n).toBeLessThan(1e9);
  });
});

describe('--trace-config', () => {
  it('takes Triton’s forms: one setting per flag, an opentelemetry prefix, or several comma-separated', () => {
    const c = parseTraceConfig([
      'level=TIMESTAMPS',
      'rate=100',
      'count=5',
      'mode=opentelemetry',
      'opentelemetry,url=localhost:4318/v1/traces',
      'opentelemetry,resource=service.name=svc,resource=env=prod',
      'bsp_max_queue_size=100,bsp_schedule_delay=50,bsp_max_export_batch_size=10',
    ]);
    expect(c.trace).toEqual({ level: 'TIMESTAMPS', rate: 100, count: 5 });
    expect(c.export).toEqual({ url: 'http://localhost:4318/v1/traces', resource: { 'service.name': 'svc', env: 'prod' }, bspMaxQueueSize: 100, bspScheduleDelayMs: 50, bspMaxExportBatchSize: 10 });
    expect(parseTraceConfig([]).trace).toEqual({ level: 'OFF', rate: 1000, count: -1 }); // Triton's defaults
    expect(parseTraceConfig(['rate=10,level=timestamps,url=https://c:4318/v1/traces']).export.url).toBe('https://c:4318/v1/traces');
  });

  it('refuses Triton’s file mode and anything unknown, naming the setting', () => {
    expect(() => parseTraceConfig(['triton,file=trace.json'])).toThrow(/--trace-config triton: .*OpenTelemetry .* only/);
    expect(() => parseTraceConfig(['file=trace.json'])).toThrow(/--trace-config file: .*not supported/);
    expect(() => parseTraceConfig(['log-frequency=50'])).toThrow(/log-frequency/);
    expect(() => parseTraceConfig(['level=TENSORS'])).toThrow(/TENSORS is not available/);
    expect(() => parseTraceConfig(['level=ALL'])).toThrow(/expected TIMESTAMPS or OFF/);
    expect(() => parseTraceConfig(['rate=-1'])).toThrow(/rate: expected an integer ≥ 0/);
    expect(() => parseTraceConfig(['count=-2'])).toThrow(/count: expected an integer ≥ -1/);
    expect(() => parseTraceConfig(['sample=3'])).toThrow(/unknown setting 'sample'/);
    expect(() => parseTraceConfig(['rate'])).toThrow(/unknown mode/);
    expect(() => parseTraceConfig(['url=http://[bad'])).toThrow(/not a URL/);
    expect(() => parseTraceConfig(['bsp_max_queue_size=10,bsp_max_export_batch_size=20'])).toThrow(/must not exceed bsp_max_queue_size/);
  });
});

describe('trace setting bodies', () => {
  it('reads Triton’s string values, numbers, and null resets', () => {
    expect(parsePatch({ trace_level: ['TIMESTAMPS'], trace_rate: '10', trace_count: 3 })).toEqual({ level: 'TIMESTAMPS', rate: 10, count: 3 });
    expect(parsePatch({ trace_level: ['OFF'] })).toEqual({ level: 'OFF' });
    expect(parsePatch({ trace_level: null, trace_rate: null })).toEqual({ level: null, rate: null });
    expect(parsePatch({ trace_mode: 'opentelemetry' })).toEqual({});
  });
});
