// Tensors as callers hand them to the engine and get them back. The datatype picks the array type,
// so a wrong pairing (FP32 with a Float64Array) fails to compile.
import type { BytesOutput, DataType, DataTypeCarrier } from './datatype.js';

/** An input tensor: `data` is read in place by ONNX Runtime (do not mutate it until the result arrives). */
export type InputTensor = {
  [D in DataType]: {
    /** Optional: when given it must match the model's datatype for this input. */
    datatype?: D;
    shape: readonly number[];
    data: DataTypeCarrier[D];
  };
}[DataType];

/** An output tensor. Numeric data is a view or a copy of ORT's output; BYTES come back as Buffers. */
export type OutputTensor = {
  [D in DataType]: {
    datatype: D;
    shape: number[];
    data: D extends 'BYTES' ? BytesOutput : DataTypeCarrier[D];
  };
}[DataType];

export type InferInputs = Readonly<Record<string, InputTensor>>;
export type InferOutputs = Record<string, OutputTensor>;

export interface TensorMetadata {
  name: string;
  datatype: DataType;
  /** -1 for every dynamic or symbolic dimension. */
  shape: number[];
  /** The symbolic name of each dimension, null where it has none. */
  dimNames: Array<string | null>;
}
