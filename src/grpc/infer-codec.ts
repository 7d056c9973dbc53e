// The hot gRPC messages, hand-encoded: ModelInferRequest in, ModelInferResponse and
// ModelStreamInferResponse out. protobufjs builds an object per message and per 64-bit value, and
// copies bytes fields; tensors need views and single copies instead. The control-plane messages go
// through protobufjs (messages.ts).
export { decodeModelInferRequest, peekModel, type GrpcInferRequest, type PeekedRequest } from './infer-request.js';
export {
  encodeModelInferResponse,
  encodeStreamInferResponse,
  encodeStreamResponse,
  type GrpcResponseArgs,
} from './infer-response.js';
export type { ParameterValue } from './infer-parameter.js';
