// A gRPC inference message as a RequestContext for the inference service, exactly as the HTTP front
// builds one: the model named in the message, the call's cancellation, its metadata (routes read sticky
// keys and pins there), its W3C trace context (metadata traceparent/tracestate) and its deadline as the
// queue timeout. Also the unary ModelInfer itself.
import { Metadata, type ServerUnaryCall } from '@grpc/grpc-js';
import type { EncodedReply } from '../cache/index.js';
import { RequestContext, type InferenceService, type InferenceWire } from '../inference/index.js';
import { ProtocolError } from '../protocol/errors.js';
import type { BodyBudget } from '../server/body-budget.js';
import { ClientAbort } from '../server/client-abort.js';
import { traceHeaders } from '../tracing/traceparent.js';
import { deadlineUs, metadataText, type CallInfo } from './call.js';
import { peekModel, type PeekedRequest } from './infer-request.js';
import { GRPC_WIRE, replyMessage } from './infer-wire.js';

export function inferContext(wire: InferenceWire, payload: Buffer, peeked: PeekedRequest, call: CallInfo, signal: ClientAbort): RequestContext {
  const version = peeked.modelVersion === '' ? undefined : peeked.modelVersion;
  const ctx = new RequestContext('grpc', wire, peeked.modelName, version, payload);
  ctx.signal = signal;
  ctx.metadata = call.metadata; // routes read sticky keys and pins from it
  const traceparent = metadataText(call.metadata, 'traceparent');
  if (traceparent !== undefined) ctx.trace = { traceparent, tracestate: metadataText(call.metadata, 'tracestate') };
  ctx.timeoutUs = deadlineUs(call.getDeadline());
  return ctx;
}

/** A call's cancellation (the client's cancel, a broken connection, the deadline) as an abort signal. */
export function callAbort(call: NodeJS.EventEmitter, what: string): ClientAbort {
  const abort = new ClientAbort();
  call.once('cancelled', () => abort.abort(new Error(`the client cancelled the ${what}`)));
  return abort;
}

/**
 * Runs a request through the service while its message counts in the body budget the HTTP front
 * shares (--max-inflight-body-bytes): grpc-js has read it already, but it stays held until answered.
 */
export function inferHeld(service: InferenceService, ctx: RequestContext, budget: BodyBudget | undefined): Promise<EncodedReply> {
  if (budget === undefined) return service.infer(ctx);
  const bytes = ctx.payload.length;
  if (!budget.take(bytes)) {
    return Promise.reject(
      new ProtocolError('OVERLOADED', `the server holds ${budget.limit} bytes of requests already (--max-inflight-body-bytes); retry later`),
    );
  }
  return service.infer(ctx).finally(() => budget.give(bytes));
}

/**
 * ModelInfer: one request through the inference service; resolves with the encoded response. A traced
 * request's reply (or error status) comes with traceparent/tracestate in the response's initial
 * metadata, as the HTTP front returns them in headers.
 */
export function unaryInfer(service: InferenceService, call: ServerUnaryCall<Buffer, Buffer>, budget?: BodyBudget): Promise<Buffer> {
  const payload = call.request;
  const ctx = inferContext(GRPC_WIRE, payload, peekModel(payload), call, callAbort(call, 'call'));
  return inferHeld(service, ctx, budget).then(
    (reply) => {
      if (ctx.traced !== undefined) call.sendMetadata(traceMetadata(ctx.traced));
      return replyMessage(reply);
    },
    (err: unknown) => {
      if (ctx.traced !== undefined) call.sendMetadata(traceMetadata(ctx.traced));
      throw err;
    },
  );
}

function traceMetadata(traced: NonNullable<RequestContext['traced']>): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(traceHeaders(traced))) metadata.set(key, value);
  return metadata;
}
