// The in-process front: a call made inside the server (an ensemble step, a JavaScript model's call to
// another model) whose target answers only through the inference stages — a route, which picks a target
// per request, may fall back, and records what happened. The call becomes a RequestContext like any
// front's, with a wire that carries tensors instead of bytes; the outputs are read off the context.
import type { EncodedReply } from '../cache/index.js';
import type { InferInputs, InferOutputs, InputTensor } from '../engine/index.js';
import type { DecodedInferRequest } from '../protocol/infer-request.js';
import type { ServableInferOptions } from '../repository/backend.js';
import { RequestContext } from './context.js';
import type { InferenceService } from './service.js';
import type { InferenceWire } from './wire.js';

interface Call {
  inputs: InferInputs;
  options: ServableInferOptions;
}

const EMPTY = Buffer.alloc(0);
const NO_REPLY: EncodedReply = { headers: {}, body: [] };
const calls = new WeakMap<RequestContext, Call>();

const INPROC_WIRE: InferenceWire = {
  format: 'inproc',
  // The reply tier keys on payload bytes; an in-process call has none (the tensor tier still applies).
  replyCacheable: false,
  decode(ctx: RequestContext): DecodedInferRequest {
    const { inputs, options } = calls.get(ctx)!;
    return {
      ...(options.id !== undefined ? { id: options.id } : {}),
      inputs: inputs as Record<string, InputTensor>,
      ...(options.outputs ? { outputs: options.outputs.map((name) => ({ name, binary: false })) } : {}),
      binaryDataOutput: false,
      parameters: { ...(options.parameters ?? {}) },
    };
  },
  encode: () => NO_REPLY,
};

/** Runs `model` through the service's stages for a caller inside the server; resolves with its outputs. */
export function inferInProcess(service: InferenceService, model: string, version: string | undefined, inputs: InferInputs, options: ServableInferOptions): Promise<InferOutputs> {
  const ctx = new RequestContext('inproc', INPROC_WIRE, model, version, EMPTY);
  calls.set(ctx, { inputs, options });
  ctx.signal = options.signal;
  ctx.trace = options.trace;
  ctx.timeoutUs = options.timeoutUs ?? (options.timeoutMs !== undefined ? options.timeoutMs * 1000 : 0);
  ctx.priority = options.priority ?? 0;
  ctx.chain = options.chain;
  ctx.waiter = options.waiter;
  return service.infer(ctx).then(() => ctx.outputs!);
}
