// How a gRPC inference message becomes a RequestContext (no server): the model named in the message,
// the W3C trace context from metadata, the call's deadline as the queue timeout, and the call's
// 'cancelled' event as the request's abort signal.
import { EventEmitter } from 'node:events';
import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { callAbort, inferContext } from '../src/grpc/infer-call.js';
import { peekModel } from '../src/grpc/infer-codec.js';
import { GRPC_STREAM_WIRE, GRPC_WIRE } from '../src/grpc/infer-wire.js';
import { deadlineUs } from '../src/grpc/call.js';
import { encodeInferRequest } from './helpers/grpc-client.js';

function fakeCall(metadata: Record<string, string>, deadline: Date | number) {
  const call = Object.assign(new EventEmitter(), { metadata: new Metadata(), cancelled: false, getDeadline: () => deadline });
  for (const [k, v] of Object.entries(metadata)) call.metadata.set(k, v);
  return call;
}

describe('gRPC request context', () => {
  it('names the model and version of the message, carries trace context and the deadline', () => {
    const payload = encodeInferRequest({ model_name: 'm', model_version: '2', id: 'i' });
    const call = fakeCall({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'a=b' }, Date.now() + 1500);
    const ctx = inferContext(GRPC_WIRE, payload, peekModel(payload), call, callAbort(call, 'call'));
    expect([ctx.front, ctx.model, ctx.version, ctx.payload, ctx.wire.format]).toEqual(['grpc', 'm', '2', payload, 'v2-grpc']);
    expect(ctx.trace).toEqual({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'a=b' });
    expect(ctx.timeoutUs).toBeGreaterThan(1_300_000);
    expect(ctx.timeoutUs).toBeLessThanOrEqual(1_500_000);
  });

  it('an empty version is the latest; no trace without traceparent; no deadline, no timeout', () => {
    const payload = encodeInferRequest({ model_name: 'm' });
    const call = fakeCall({ tracestate: 'a=b' }, Infinity);
    const ctx = inferContext(GRPC_STREAM_WIRE, payload, peekModel(payload), call, callAbort(call, 'stream'));
    expect([ctx.version, ctx.trace, ctx.timeoutUs, ctx.wire.format]).toEqual([undefined, undefined, 0, 'v2-grpc-stream']);
  });

  it('a deadline already past leaves 1 µs (never 0, which means none)', () => {
    expect(deadlineUs(Date.now() - 1000)).toBe(1);
    expect(deadlineUs(new Date(Date.now() - 1))).toBe(1);
    expect(deadlineUs(Infinity)).toBe(0);
  });

  it("the call's 'cancelled' aborts the request's signal", () => {
    const call = fakeCall({}, Infinity);
    const signal = callAbort(call, 'call');
    let fired = 0;
    signal.addEventListener('abort', () => fired++);
    expect(signal.aborted).toBe(false);
    call.emit('cancelled');
    expect([signal.aborted, fired, (signal.reason as Error).message]).toEqual([true, 1, 'the client cancelled the call']);
  });
});
