// Tracing end to end: the server exports OTLP/HTTP to a real receiver in the test, which decodes what
// arrives. One request's spans (structure and timings), W3C propagation both ways, Triton's sampling
// (rate, count, level, per-model settings) and its settings API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModel } from '../src/onnx/models.js';
import { OtlpReceiver, type ReceivedSpan } from './helpers/otlp-receiver.js';
import { ENGINES, get, makeRepository, post, serve, until, type TestServer, DEFAULT_ENGINE } from './helpers/http-server.js';

const X = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 16], datatype: 'FP32', data: Array.from({ length: 16 }, (_, i) => i) }] });
const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

const ns = (s: ReceivedSpan) => Number(s.end - s.start);

describe.each(ENGINES)('tracing over %s', (engine) => {
  let receiver: OtlpReceiver;
  let server: TestServer;
  let port: number;
  const infer = (model = 'tiny', headers?: Record<string, string>, body = X) => post(port, `/v2/models/${model}/infer`, body, headers);
  const setting = (body: unknown, model?: string) => post(port, model ? `/v2/models/${model}/trace/setting` : '/v2/trace/setting', body);
  const flush = () => server.running.tracing.flush();

  beforeAll(async () => {
    receiver = await new OtlpReceiver().start();
    const repo = makeRepository({ tiny: { bytes: tinyModel() }, other: { bytes: tinyModel() } });
    server = await serve(engine, {
      modelRepository: repo,
      traceConfig: [`level=TIMESTAMPS,rate=1,url=${receiver.url}`, 'opentelemetry,resource=deployment.environment=test', 'bsp_schedule_delay=20'],
    });
    port = server.port;
  });
  afterAll(async () => {
    await server.stop();
    await receiver.close();
  });

  it('exports one request as a SERVER span with decode, queue, compute and encode children whose timings add up', async () => {
    const r = await infer();
    expect(r.status).toBe(200);
    const traceparent = String(r.headers.traceparent);
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const [, traceId, spanId] = traceparent.split('-');
    await flush();
    const spans = await until(() => (receiver.trace(traceId!).length >= 5 ? receiver.trace(traceId!) : undefined), 'the spans');
    const root = spans.find((s) => s.parentSpanId === undefined)!;
    expect(root.spanId).toBe(spanId); // the reply names the server span
    expect(root.name).toBe('POST /v2/models/{model_name}/infer');
    expect(root.kind).toBe(2); // SERVER
    expect(root.attributes).toMatchObject({
      'tensorgate.model.name': 'tiny',
      'tensorgate.model.version': '1',
      'tensorgate.front': 'http',
      'tensorgate.source': 'compute',
      'tensorgate.batch_size': 1,
      'http.request.method': 'POST',
      'http.route': '/v2/models/{model_name}/infer',
      'http.response.status_code': 200,
    });
    expect(root.status.code).toBe(0);
    expect(root.resource).toMatchObject({ 'service.name': 'tensorgate', 'deployment.environment': 'test' });
    expect(receiver.contentTypes[0]).toBe('application/json'); // OTLP/HTTP, JSON encoding
    const children = spans.filter((s) => s.parentSpanId === root.spanId).sort((a, b) => Number(a.start - b.start));
    expect(children.map((s) => s.name)).toEqual(['decode', 'queue', 'compute', 'encode']);
    expect(children.every((s) => s.kind === 1)).toBe(true); // INTERNAL
    expect(children.find((s) => s.name === 'compute')!.attributes['tensorgate.batch_size']).toBe(1);
    // Inside the request, in order, not overlapping: together no longer than the request.
    for (const c of children) {
      expect(c.start >= root.start && c.end <= root.end).toBe(true);
      expect(c.end >= c.start).toBe(true);
    }
    for (let i = 1; i < children.length; i++) expect(children[i]!.start >= children[i - 1]!.end).toBe(true);
    expect(children.reduce((sum, c) => sum + ns(c), 0)).toBeLessThanOrEqual(ns(root));
    // Queue then compute straight after: the engine's own timings, end to end.
    const [, queue, compute] = children;
    expect(compute!.start).toBe(queue!.end);
    // Wall-clock times are now-ish (epoch ns).
    expect(Math.abs(Number(root.start / 1_000_000n) - Date.now())).toBeLessThan(60_000);
  });

  it('continues a caller’s sampled trace (same trace id, the caller’s span as parent) and returns tracestate', async () => {
    await setting({ trace_rate: '0' }); // rate 0: only propagated traces
    const r = await infer('tiny', { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`, tracestate: 'vendor=abc,other=1' });
    expect(r.status).toBe(200);
    const [, traceId, spanId, flags] = String(r.headers.traceparent).split('-');
    expect(traceId).toBe(CALLER_TRACE);
    expect(spanId).not.toBe(CALLER_SPAN);
    expect(flags).toBe('01');
    expect(r.headers.tracestate).toBe('vendor=abc,other=1');
    await flush();
    const root = await until(() => receiver.trace(CALLER_TRACE).find((s) => s.spanId === spanId), 'the continued trace');
    expect(root.parentSpanId).toBe(CALLER_SPAN);
    expect(root.traceState).toBe('vendor=abc,other=1');
    // Unsampled callers and untraced requests get no traceparent back at rate 0.
    expect((await infer('tiny', { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-00` })).headers.traceparent).toBeUndefined();
    expect((await infer()).headers.traceparent).toBeUndefined();
    // An invalid traceparent is ignored (a new trace would start; none here at rate 0).
    expect((await infer('tiny', { traceparent: `00-${'0'.repeat(32)}-${CALLER_SPAN}-01` })).headers.traceparent).toBeUndefined();
    await setting({ trace_rate: null }); // back to the startup value
    expect((await get(port, '/v2/trace/setting')).json().trace_rate).toBe('1');
  });

  it('samples every rate-th request exactly, and stops after count traces', async () => {
    expect((await setting({ trace_rate: '10' })).json()).toEqual({ trace_level: ['TIMESTAMPS'], trace_rate: '10', trace_count: '-1', trace_mode: 'opentelemetry' });
    let traced = 0;
    for (let i = 0; i < 100; i++) if ((await infer()).headers.traceparent !== undefined) traced++;
    expect(traced).toBe(10);
    expect((await setting({ trace_rate: '1', trace_count: '3' })).json().trace_count).toBe('3');
    traced = 0;
    for (let i = 0; i < 10; i++) if ((await infer()).headers.traceparent !== undefined) traced++;
    expect(traced).toBe(3);
    expect((await get(port, '/v2/trace/setting')).json().trace_count).toBe('0');
    // A caller's sampled traceparent is traced even with the count spent.
    expect((await infer('tiny', { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` })).headers.traceparent).toBeDefined();
    await setting({ trace_count: '-1' });
  });

  it('per-model settings override the server’s; null goes back to them; level OFF traces nothing', async () => {
    expect((await setting({ trace_level: ['OFF'] }, 'other')).json().trace_level).toEqual(['OFF']);
    expect((await get(port, '/v2/models/other/trace/setting')).json().trace_level).toEqual(['OFF']);
    expect((await get(port, '/v2/models/tiny/trace/setting')).json().trace_level).toEqual(['TIMESTAMPS']);
    expect((await infer('other')).headers.traceparent).toBeUndefined();
    expect((await infer('other', { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` })).headers.traceparent).toBeUndefined();
    expect((await infer('tiny')).headers.traceparent).toBeDefined();
    await setting({ trace_level: null }, 'other');
    expect((await infer('other')).headers.traceparent).toBeDefined();
    // Server-wide OFF, one model on.
    await setting({ trace_level: ['OFF'] });
    await setting({ trace_level: ['TIMESTAMPS'] }, 'other');
    expect((await infer('tiny')).headers.traceparent).toBeUndefined();
    expect((await infer('other')).headers.traceparent).toBeDefined();
    await setting({ trace_level: null }, 'other');
    await setting({ trace_level: ['TIMESTAMPS'] });
  });

  it('traces failures too: a 400 keeps an unset status, with error.type and the traceparent on the error reply', async () => {
    const r = await infer('tiny', undefined, JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] }));
    expect(r.status).toBe(400);
    expect(r.json().error).toMatch(/input 'x'/);
    const [, traceId] = String(r.headers.traceparent).split('-');
    await flush();
    const root = await until(() => receiver.trace(traceId!).find((s) => s.parentSpanId === undefined), 'the failed request’s span');
    expect(root.attributes['http.response.status_code']).toBe(400);
    expect(root.attributes['error.type']).toBe('INVALID_ARGUMENT');
    expect(root.status.code).toBe(0); // 4xx is the client's: status unset
    const missing = await infer('nosuchmodel');
    expect(missing.status).toBe(404);
    expect(missing.headers.traceparent).toBeDefined();
  });

  it('refuses what it does not support with 400, unknown models with 404, other methods with 405', async () => {
    for (const body of [{ trace_file: 'x.json' }, { log_frequency: '10' }, { trace_level: ['TENSORS'] }, { trace_rate: '-1' }, { trace_rate: 'often' }, { trace_count: '-2' }, { sampling: 1 }]) {
      const r = await setting(body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json().error).toBeTypeOf('string');
    }
    expect((await setting({ trace_rate: '5' }, 'nosuchmodel')).status).toBe(404);
    expect((await get(port, '/v2/models/nosuchmodel/trace/setting')).status).toBe(404);
    const put = await (await import('./helpers/http-server.js')).request(port, 'PUT', '/v2/trace/setting');
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe('GET, POST');
    expect((await get(port, '/v2')).json().extensions).toContain('trace');
  });

  it('counts traces, exported spans and failed exports in /metrics', async () => {
    await flush();
    receiver.status = 400; // refused, not retried: the batch fails
    expect((await infer()).headers.traceparent).toBeDefined();
    await flush();
    receiver.status = 200;
    const text = (await get(port, '/metrics')).text();
    expect(Number(/^tensorgate_trace_spans_exported_total\{result="failure"\} (\d+)/m.exec(text)![1])).toBe(5); // the request and its four phases
    const traces = Number(/^tensorgate_traces_total (\d+)/m.exec(text)![1]);
    const exported = Number(/^tensorgate_trace_spans_exported_total\{result="success"\} (\d+)/m.exec(text)![1]);
    expect(traces).toBeGreaterThan(10);
    expect(exported).toBe(receiver.spans.length);
  });
});

describe('trace settings with an admin token', () => {
  it('needs the token to change them, not to read them', async () => {
    const server = await serve('node', { modelRepository: makeRepository({ tiny: { bytes: tinyModel() } }), adminToken: 's3cret' });
    try {
      expect((await get(server.port, '/v2/trace/setting')).status).toBe(200);
      const refused = await post(server.port, '/v2/trace/setting', { trace_level: ['TIMESTAMPS'] });
      expect(refused.status).toBe(401);
      expect(server.running.tracing.active).toBe(false);
      expect((await post(server.port, '/v2/models/tiny/trace/setting', { trace_rate: '1' })).status).toBe(401);
      const r = await post(server.port, '/v2/trace/setting', { trace_rate: '7' }, { authorization: 'Bearer s3cret' });
      expect(r.status).toBe(200);
      expect(r.json().trace_rate).toBe('7');
    } finally {
      await server.stop();
    }
  });
});

describe('tracing off', () => {
  it('returns no traceparent and traces nothing, a caller’s sampled traceparent included', async () => {
    const server = await serve(DEFAULT_ENGINE, { modelRepository: makeRepository({ tiny: { bytes: tinyModel() } }) });
    try {
      const r = await post(server.port, '/v2/models/tiny/infer', X, { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` });
      expect(r.status).toBe(200);
      expect(r.headers.traceparent).toBeUndefined();
      expect(server.running.tracing.active).toBe(false);
      expect(server.running.tracing.traced).toBe(0);
      expect((await get(server.port, '/v2/trace/setting')).json()).toEqual({ trace_level: ['OFF'], trace_rate: '1000', trace_count: '-1', trace_mode: 'opentelemetry' });
    } finally {
      await server.stop();
    }
  });
});
