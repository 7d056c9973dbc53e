// Raw binary requests (Inference-Header-Content-Length: 0, as Triton): the whole body is the single
// input of a single-input model, its shape inferred from the byte length.
import { ELEMENT_SIZE } from '../engine/datatype.js';
import type { InputTensor } from '../engine/tensor.js';
import { checkBool, typedView } from './binary-tensors.js';
import { badRequest } from './errors.js';
import { INFERENCE_HEADER_CONTENT_LENGTH, checkElements, type DecodeModel, type DecodedInferRequest } from './infer-request.js';
import type { DecodeLimits } from './limits.js';

export function decodeRaw(body: Buffer, model: DecodeModel, limits: DecodeLimits): DecodedInferRequest {
  if (model.inputs.length !== 1) {
    throw badRequest(
      `a raw binary request (${INFERENCE_HEADER_CONTENT_LENGTH}: 0) needs a model with exactly one input; ` +
        `this model has ${model.inputs.length}`,
    );
  }
  const input = model.inputs[0]!;
  const datatype = input.datatype;
  if (datatype === 'BYTES') {
    throw badRequest(`a raw binary request cannot carry BYTES input '${input.name}'; use the JSON or binary form`);
  }
  const size = ELEMENT_SIZE[datatype];
  if (body.length % size !== 0) {
    throw badRequest(
      `raw binary request: ${body.length} bytes is not a whole number of ${datatype} elements (${size} bytes each)`,
    );
  }
  const count = body.length / size;
  checkElements(input.name, 0, count, limits);
  const dynamic = input.shape.filter((d) => d < 0).length;
  let known = 1;
  for (const d of input.shape) if (d >= 0) known *= d;
  let shape: number[];
  if (dynamic === 0) {
    if (known !== count) {
      throw badRequest(
        `raw binary request: input '${input.name}' of shape [${input.shape.join(',')}] takes ${known * size} bytes, ` +
          `got ${body.length}`,
      );
    }
    shape = [...input.shape];
  } else if (dynamic === 1) {
    let inferred: number;
    if (known === 0) {
      if (count !== 0) {
        throw badRequest(`raw binary request: input '${input.name}' of shape [${input.shape.join(',')}] holds no data, got ${body.length} bytes`);
      }
      inferred = 0;
    } else {
      if (count % known !== 0) {
        throw badRequest(
          `raw binary request: ${count} ${datatype} elements do not fill input '${input.name}' of shape ` +
            `[${input.shape.join(',')}] (a multiple of ${known} needed)`,
        );
      }
      inferred = count / known;
    }
    shape = input.shape.map((d) => (d < 0 ? inferred : d));
  } else {
    throw badRequest(
      `raw binary request: cannot infer the shape of input '${input.name}' ([${input.shape.join(',')}]) ` +
        'with more than one dynamic dimension; use the JSON or binary form',
    );
  }
  const data = typedView(datatype, body, 0, count);
  if (datatype === 'BOOL') checkBool(input.name, data as Uint8Array);
  return {
    inputs: { [input.name]: { datatype, shape, data } as InputTensor },
    binaryDataOutput: true,
    parameters: {},
  };
}
