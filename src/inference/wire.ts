// What a front tells the inference service about its wire format: how to read a request's payload and
// how to write the reply. The service never looks at bytes itself.
import type { EncodedReply } from '../cache/index.js';
import type { DecodeModel, DecodedInferRequest } from '../protocol/infer-request.js';
import type { EncodeResponseArgs } from '../protocol/infer-response.js';
import type { DecodeLimits } from '../protocol/limits.js';
import type { RequestContext } from './context.js';

export interface InferenceWire {
  /** The format's name: part of the reply tier's key, so formats never answer each other. */
  readonly format: string;
  /** Whether the reply tier may key on the payload bytes (the payload then determines the reply). */
  readonly replyCacheable: boolean;
  /** The payload as a v2 request, within the server's limits; throws ProtocolError for anything malformed. */
  decode(ctx: RequestContext, model: DecodeModel, limits: DecodeLimits): DecodedInferRequest;
  /** The reply to send. */
  encode(ctx: RequestContext, result: EncodeResponseArgs): EncodedReply;
}
