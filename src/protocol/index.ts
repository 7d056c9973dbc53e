// The v2 (KServe Open Inference Protocol) wire format, transport-agnostic: request decoding,
// response encoding, metadata/statistics bodies and error statuses.
export { ProtocolError, badRequest, errorBody, errorMessage, httpStatusFor } from './errors.js';
export {
  INFERENCE_HEADER_CONTENT_LENGTH,
  alignmentPad,
  decodeInferRequest,
  parseInferenceHeaderLength,
  type DecodeModel,
  type DecodedInferRequest,
  type RequestedOutput,
} from './infer-request.js';
export { binaryOf, encodeInferResponse, jsonDataOf, type EncodeResponseArgs, type EncodedResponse } from './infer-response.js';
export {
  ONNX_PLATFORM,
  modelMetadata,
  modelReady,
  modelStatistics,
  repositoryIndex,
  serverLive,
  serverMetadata,
  serverReady,
  type ModelMetadataResponse,
  type ModelStatisticsResponse,
  type RepositoryIndexEntry,
  type ServerMetadataResponse,
  type StatisticsEntry,
  type TensorInfo,
} from './metadata.js';
export { fromHalfBits, toHalfBits } from './half.js';
