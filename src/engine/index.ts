export { Engine, type RuntimeInfo } from './engine.js';
export { Model, type AbortSignalLike, type InferOptions, type InferTimings, type ModelMetadata, type ModelStats } from './model.js';
export { TensorgateError, isTensorgateError, type ErrorCode } from './errors.js';
export type { EngineLogger, EngineOptions, LoadOptions, DynamicBatchingOptions, QueuePolicy } from './options.js';
export type { InputTensor, OutputTensor, InferInputs, InferOutputs, TensorMetadata } from './tensor.js';
export { DATATYPES, ELEMENT_SIZE, type DataType, type DataTypeCarrier } from './datatype.js';
