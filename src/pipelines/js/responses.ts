// A JavaScript model's responses, checked against its declared outputs before anything is sent: the
// names, datatypes, the arrays that carry them, shapes (the batch dimension equal to the request's)
// and element counts. A wrong response fails its request with INTERNAL (500), naming the model and the
// output; it never reaches a client malformed.
import { CARRIER, elementCount, type NumericDataType } from '../../engine/datatype.js';
import { TensorgateError } from '../../engine/errors.js';
import type { InferOutputs, TensorMetadata } from '../../engine/index.js';
import { asBuffers, type WireTensors } from '../tensors.js';

export class OutputSpec {
  readonly #byName: Map<string, TensorMetadata>;
  readonly names: readonly string[];

  constructor(
    outputs: readonly TensorMetadata[],
    readonly batched: boolean,
  ) {
    this.#byName = new Map(outputs.map((o) => [o.name, o]));
    this.names = outputs.map((o) => o.name);
  }

  has(name: string): boolean {
    return this.#byName.has(name);
  }

  /** The outputs a request gets (those it asked for, else all declared ones), or why the response is wrong. */
  check(outputs: WireTensors, requested: readonly string[] | undefined, rows: number, label: string): InferOutputs {
    const fail = (message: string): never => {
      throw new TensorgateError('INTERNAL', `${label} returned an invalid response: ${message}`);
    };
    for (const name in outputs) if (!this.#byName.has(name)) fail(`output '${name}' is not declared in its config (outputs: ${this.names.join(', ')})`);
    const out: InferOutputs = {};
    for (const name of requested ?? this.names) {
      const t = outputs[name];
      if (t === undefined) fail(`output '${name}' is missing`);
      const meta = this.#byName.get(name)!;
      const datatype = meta.datatype;
      if (t!.datatype !== undefined && t!.datatype !== datatype) fail(`output '${name}': expected datatype ${datatype}, got ${t!.datatype}`);
      const shape = t!.shape;
      if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)) {
        fail(`output '${name}': shape must be an array of non-negative integers`);
      }
      if (shape.length !== meta.shape.length || meta.shape.some((d, i) => d >= 0 && d !== shape[i])) {
        fail(`output '${name}': expected shape [${meta.shape.join(',')}], got [${shape.join(',')}]`);
      }
      if (this.batched && shape[0] !== rows) fail(`output '${name}': batch dimension ${shape[0]} differs from the request's ${rows}`);
      const count = elementCount(shape);
      const data = t!.data;
      if (datatype === 'BYTES') {
        if (!Array.isArray(data)) fail(`output '${name}': BYTES data must be an array of strings or Uint8Arrays`);
        if ((data as unknown[]).length !== count) fail(`output '${name}': shape [${shape.join(',')}] has ${count} elements but data has ${(data as unknown[]).length}`);
        out[name] = { datatype, shape, data: asBuffers(data as Array<string | Uint8Array>) };
        continue;
      }
      const Carrier = CARRIER[datatype as NumericDataType];
      const ok = data instanceof Carrier || ((datatype === 'UINT8' || datatype === 'BOOL') && data instanceof Uint8ClampedArray);
      if (!ok) fail(`output '${name}': datatype ${datatype} must be a ${Carrier.name}, got ${Array.isArray(data) ? 'an array' : (data as object).constructor.name}`);
      const length = (data as ArrayLike<unknown>).length;
      if (length !== count) fail(`output '${name}': shape [${shape.join(',')}] has ${count} elements but data has ${length}`);
      out[name] = { datatype, shape: [...shape], data } as InferOutputs[string];
    }
    return out;
  }
}
