// Tracing over gRPC: the caller's traceparent from metadata is continued, the reply's initial metadata
// carries the server span's traceparent (and tracestate), and the spans reach the OTLP receiver with
// the RPC's attributes.
import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModel } from '../src/onnx/models.js';
import { makeRepository, until } from './helpers/fixtures.js';
import { encodeInferRequest } from './helpers/grpc-client.js';
import { serveGrpc, type GrpcTestServer } from './helpers/grpc-server.js';
import { OtlpReceiver } from './helpers/otlp-receiver.js';

const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const identity = (b: Buffer) => b;

describe('tracing over gRPC', () => {
  let receiver: OtlpReceiver;
  let server: GrpcTestServer;

  beforeAll(async () => {
    receiver = await new OtlpReceiver().start();
    server = await serveGrpc({
      modelRepository: makeRepository({ tiny: { bytes: tinyModel() } }),
      traceConfig: [`level=TIMESTAMPS,rate=0,url=${receiver.url}`, 'bsp_schedule_delay=20'],
    });
  });
  afterAll(async () => {
    await server.stop();
    await receiver.close();
  });

  /** ModelInfer with `metadata`; resolves with the response's initial metadata and its status. */
  function infer(request: object, metadata: Record<string, string>): Promise<{ headers: Metadata; error: Error | null }> {
    const md = new Metadata();
    for (const [k, v] of Object.entries(metadata)) md.set(k, v);
    return new Promise((resolve) => {
      let headers = new Metadata();
      const call = server.client.client.makeUnaryRequest('/inference.GRPCInferenceService/ModelInfer', identity, identity, encodeInferRequest(request), md, (error) =>
        resolve({ headers, error }),
      );
      call.on('metadata', (m: Metadata) => (headers = m));
    });
  }

  const request = (shape = [1, 16]) => ({
    model_name: 'tiny',
    inputs: [{ name: 'x', datatype: 'FP32', shape, contents: { fp32_contents: Array.from({ length: shape[0]! * shape[1]! }, (_, i) => i) } }],
  });

  it('continues the caller’s trace and returns traceparent and tracestate in the reply metadata', async () => {
    const { headers, error } = await infer(request(), { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`, tracestate: 'k=v' });
    expect(error).toBeNull();
    const [, traceId, spanId, flags] = String(headers.get('traceparent')[0]).split('-');
    expect(traceId).toBe(CALLER_TRACE);
    expect(flags).toBe('01');
    expect(headers.get('tracestate')).toEqual(['k=v']);
    await server.running.tracing.flush();
    const root = await until(() => receiver.trace(CALLER_TRACE).find((s) => s.spanId === spanId), 'the root span');
    expect(root.name).toBe('inference.GRPCInferenceService/ModelInfer');
    expect(root.parentSpanId).toBe(CALLER_SPAN);
    expect(root.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.method': 'ModelInfer', 'tensorgate.front': 'grpc', 'tensorgate.model.name': 'tiny' });
    const children = receiver.trace(CALLER_TRACE).filter((s) => s.parentSpanId === spanId).map((s) => s.name);
    expect(children.sort()).toEqual(['compute', 'decode', 'encode', 'queue']);
  });

  it('returns the trace context with an error status too, and nothing for untraced calls', async () => {
    const failed = await infer(request([1, 3]), { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` });
    expect((failed.error as { code?: number }).code).toBe(3); // INVALID_ARGUMENT
    expect(String(failed.headers.get('traceparent')[0])).toMatch(new RegExp(`^00-${CALLER_TRACE}-[0-9a-f]{16}-01$`));
    const untraced = await infer(request(), {}); // rate 0: only propagated traces
    expect(untraced.error).toBeNull();
    expect(untraced.headers.get('traceparent')).toEqual([]);
  });
});
