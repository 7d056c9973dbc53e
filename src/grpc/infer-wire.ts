// The gRPC wire formats as the inference service sees them: a ModelInferRequest in, a
// ModelInferResponse (unary ModelInfer) or a ModelStreamInferResponse (ModelStreamInfer) out. Two
// formats, not one, so that each reply is encoded once, straight into the message that is sent (a
// stream reply re-wrapped from a unary one would copy every tensor a second time); the reply tier
// keys on the format, so the two never answer each other, nor HTTP.
import type { EncodedReply } from '../cache/index.js';
import type { InferenceWire, RequestContext } from '../inference/index.js';
import type { DecodeModel, DecodedInferRequest } from '../protocol/infer-request.js';
import type { EncodeResponseArgs } from '../protocol/infer-response.js';
import type { DecodeLimits } from '../protocol/limits.js';
import { decodeModelInferRequest, encodeModelInferResponse, encodeStreamInferResponse } from './infer-codec.js';

function decode(ctx: RequestContext, _model: DecodeModel, limits: DecodeLimits): DecodedInferRequest {
  // The front took model_name/model_version from the same bytes (peekModel); this is the one full decode.
  return decodeModelInferRequest(ctx.payload, limits).decoded;
}

export const GRPC_WIRE: InferenceWire = {
  format: 'v2-grpc',
  // The payload bytes determine the reply (model, version, id, inputs, outputs, parameters).
  replyCacheable: true,
  decode,
  encode(_ctx: RequestContext, result: EncodeResponseArgs): EncodedReply {
    return { headers: {}, body: [encodeModelInferResponse(result)] };
  },
};

export const GRPC_STREAM_WIRE: InferenceWire = {
  format: 'v2-grpc-stream',
  replyCacheable: true,
  decode,
  encode(_ctx: RequestContext, result: EncodeResponseArgs): EncodedReply {
    return { headers: {}, body: [encodeStreamInferResponse(result)] };
  },
};

/** A reply's bytes as one message (the wire encoders produce exactly one buffer). */
export function replyMessage(reply: EncodedReply): Buffer {
  return reply.body.length === 1 ? reply.body[0]! : Buffer.concat(reply.body);
}
