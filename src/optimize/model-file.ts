// Model files on disk, external data included. One protobuf message cannot exceed 2 GiB, so large
// models keep tensor bytes in side files (TensorProto.data_location = EXTERNAL with location, offset
// and length entries). Reading pulls those bytes in; writing moves large tensors out when the model
// would not fit in one message, or when asked.
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { readFile, rename, rm, writeFile, open } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize, relative, sep } from 'node:path';
import { allGraphs, decodeModel, encodeModel, type OnnxModel, type OnnxTensor } from './onnx-model.js';

/** protobuf's limit on one serialized message. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

const EXTERNAL = 1;

export interface ReadModel {
  model: OnnxModel;
  /** The file's size plus its external data. */
  bytes: number;
  /** The external data files it read (relative to the model's directory). */
  externalFiles: string[];
}

/** Reads a model file and any external data it refers to. */
export async function readModelFile(path: string): Promise<ReadModel> {
  const size = statSync(path).size;
  if (size > PROTOBUF_LIMIT) {
    throw new Error(
      `${path}: ${size} bytes; one ONNX protobuf file cannot exceed 2 GiB (models that large keep their weights in external data files next to the .onnx)`,
    );
  }
  const model = decodeModel(await readFile(path));
  const externalFiles = new Set<string>();
  let external = 0;
  for (const tensor of modelTensors(model)) {
    if (tensor.data_location !== EXTERNAL) continue;
    const { location, bytes } = readExternal(tensor, dirname(path));
    externalFiles.add(location);
    external += bytes.length;
  }
  return { model, bytes: size + external, externalFiles: [...externalFiles] };
}

/** Decodes model bytes; refuses external data, which needs the model's directory. */
export function readModelBytes(bytes: Uint8Array): OnnxModel {
  const model = decodeModel(bytes);
  for (const t of modelTensors(model)) {
    if (t.data_location === EXTERNAL) throw new Error(`tensor '${t.name}' has external data: load the model from its file`);
  }
  return model;
}

/** Every TensorProto of the model that can hold weights: initializers and Constant/attribute tensors. */
export function* modelTensors(model: OnnxModel): Generator<OnnxTensor> {
  for (const g of allGraphs(model.graph!)) {
    yield* g.initializer ?? [];
    for (const n of g.node ?? []) {
      for (const a of n.attribute ?? []) {
        if (a.t) yield a.t;
        yield* a.tensors ?? [];
      }
    }
  }
}

function entry(tensor: OnnxTensor, key: string): string | undefined {
  return tensor.external_data?.find((e) => e.key === key)?.value;
}

/** Loads one tensor's external bytes into raw_data; the location must stay inside `baseDir`. */
function readExternal(tensor: OnnxTensor, baseDir: string): { location: string; bytes: Uint8Array } {
  const location = entry(tensor, 'location');
  const what = `tensor '${tensor.name}'`;
  if (!location) throw new Error(`${what}: external data without a location`);
  const norm = normalize(location);
  if (isAbsolute(norm) || norm === '..' || norm.startsWith(`..${sep}`)) {
    throw new Error(`${what}: external data location '${location}' is outside the model's directory`);
  }
  const file = join(baseDir, norm);
  const offset = Number(entry(tensor, 'offset') ?? 0);
  const fileSize = statSync(file, { throwIfNoEntry: false })?.size;
  if (fileSize === undefined) throw new Error(`${what}: external data file '${location}' does not exist`);
  const lengthEntry = entry(tensor, 'length');
  const length = lengthEntry === undefined ? fileSize - offset : Number(lengthEntry);
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > fileSize) {
    throw new Error(`${what}: external data [${offset}, +${length}) lies outside '${location}' (${fileSize} bytes)`);
  }
  const bytes = Buffer.allocUnsafe(length);
  const fd = openSync(file, 'r');
  try {
    for (let done = 0; done < length; ) {
      const n = readSync(fd, bytes, done, length - done, offset + done);
      if (n === 0) throw new Error(`${what}: external data file '${location}' ended early`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  tensor.raw_data = bytes;
  delete tensor.external_data;
  delete tensor.data_location;
  return { location: norm, bytes };
}

export interface WriteOptions {
  /** 'auto' (default): external only when the model would not fit in one protobuf message. */
  externalData?: 'auto' | 'always' | 'never';
  /** Tensors at least this large go to the external file (default 1 KiB). */
  externalMinBytes?: number;
  /** Test hook: the size above which 'auto' goes external (default: protobuf's limit less headroom). */
  autoThreshold?: number;
}

export interface WrittenModel {
  /** Files written: the model, then its external data file if any. */
  files: string[];
  /** Total bytes written. */
  bytes: number;
}

/** Bytes of tensor data in the model (raw or typed), to decide on external data before encoding. */
export function tensorBytes(model: OnnxModel): number {
  let total = 0;
  for (const t of modelTensors(model)) {
    total += t.raw_data?.length ?? 0;
    total += 4 * ((t.float_data?.length ?? 0) + (t.int32_data?.length ?? 0));
    total += 8 * ((t.int64_data?.length ?? 0) + (t.double_data?.length ?? 0) + (t.uint64_data?.length ?? 0));
  }
  return total;
}

/**
 * Writes the model to `path` atomically (temp file + rename). With external data, tensors of at least
 * externalMinBytes that carry raw_data go to `<file>.data` beside it, each at a 64-byte aligned offset
 * (4 KiB for large ones, which ONNX Runtime can then map).
 */
export async function writeModelFile(model: OnnxModel, path: string, options: WriteOptions = {}): Promise<WrittenModel> {
  const mode = options.externalData ?? 'auto';
  const threshold = options.autoThreshold ?? PROTOBUF_LIMIT - 64 * 1024 * 1024;
  const external = mode === 'always' || (mode === 'auto' && tensorBytes(model) > threshold);
  const files: string[] = [];
  let written = 0;
  let toEncode = model;
  if (external) {
    const dataName = `${basename(path)}.data`;
    const { model: slim, bytes } = await writeExternal(model, join(dirname(path), dataName), dataName, options.externalMinBytes ?? 1024);
    toEncode = slim;
    written += bytes;
    files.push(join(dirname(path), dataName));
  }
  const bytes = encodeModel(toEncode);
  if (bytes.length > PROTOBUF_LIMIT) {
    throw new Error(`the model serializes to ${bytes.length} bytes, over protobuf's 2 GiB limit: write it with external data`);
  }
  await atomicWrite(path, bytes);
  files.unshift(path);
  return { files, bytes: written + bytes.length };
}

async function atomicWrite(path: string, bytes: Uint8Array): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, bytes);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** Copies the model with large raw tensors moved to `file` (written atomically); the input is untouched. */
async function writeExternal(model: OnnxModel, file: string, location: string, minBytes: number): Promise<{ model: OnnxModel; bytes: number }> {
  const copy = copyForExternal(model);
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temp, 'w');
  let offset = 0;
  try {
    for (const g of allGraphs(copy.graph!)) {
      const inits = g.initializer ?? [];
      for (let i = 0; i < inits.length; i++) {
        const t = inits[i]!;
        const raw = t.raw_data;
        if (!raw || raw.length < minBytes) continue;
        const align = raw.length >= 1 << 20 ? 4096 : 64;
        offset = Math.ceil(offset / align) * align;
        await handle.write(raw, 0, raw.length, offset);
        const { raw_data: _dropped, ...rest } = t;
        inits[i] = {
          ...rest,
          data_location: EXTERNAL,
          external_data: [
            { key: 'location', value: location },
            { key: 'offset', value: String(offset) },
            { key: 'length', value: String(raw.length) },
          ],
        };
        offset += raw.length;
      }
    }
    await handle.close();
    await rename(temp, file);
  } catch (err) {
    await handle.close().catch(() => {});
    await rm(temp, { force: true });
    throw err;
  }
  return { model: copy, bytes: offset };
}

/** A copy whose graphs' initializer lists can be replaced without touching the original's. */
function copyForExternal(model: OnnxModel): OnnxModel {
  const cloneGraph = (g: NonNullable<OnnxModel['graph']>): NonNullable<OnnxModel['graph']> => ({
    ...g,
    initializer: [...(g.initializer ?? [])],
    node: (g.node ?? []).map((n) => ({
      ...n,
      attribute: (n.attribute ?? []).map((a) => ({
        ...a,
        ...(a.g ? { g: cloneGraph(a.g) } : {}),
        ...(a.graphs?.length ? { graphs: a.graphs.map(cloneGraph) } : {}),
      })),
    })),
  });
  return { ...model, graph: cloneGraph(model.graph!) };
}

/** Path of `file` relative to `dir`, for messages. */
export function shortPath(file: string, dir = process.cwd()): string {
  const rel = relative(dir, file);
  return rel && !rel.startsWith('..') ? rel : file;
}
