// The v2 REST wire format as the inference service sees it: the body (JSON, binary tensor extension or
// raw binary, told apart by Inference-Header-Content-Length) in, a JSON or JSON+binary reply out.
import type { EncodedReply } from '../cache/index.js';
import type { InferenceWire, RequestContext } from '../inference/index.js';
import { decodeInferRequest, parseInferenceHeaderLength, type DecodeModel, type DecodedInferRequest } from '../protocol/infer-request.js';
import { encodeInferResponse, type EncodeResponseArgs } from '../protocol/infer-response.js';
import type { DecodeLimits } from '../protocol/limits.js';

export const HTTP_WIRE: InferenceWire = {
  format: 'v2-http',
  replyCacheable: true,
  decode(ctx: RequestContext, model: DecodeModel, limits: DecodeLimits): DecodedInferRequest {
    return decodeInferRequest(ctx.payload, parseInferenceHeaderLength(ctx.variant), model, limits);
  },
  encode(_ctx: RequestContext, result: EncodeResponseArgs): EncodedReply {
    const encoded = encodeInferResponse(result);
    return { headers: encoded.headers, body: encoded.body };
  },
};
