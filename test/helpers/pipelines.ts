// Helpers for the JavaScript-model and ensemble tests: model directories written into a temp
// repository (model code, configs, ensembles), v2 inference requests built once and sent over HTTP
// (the request builder is front-neutral so a gRPC client can reuse it), and reading tensors back.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { putConfig, until } from './fixtures.js';
import { get, post, request, type HttpResult } from './http-server.js';

export { until };

/** <root>/<name>/<version>/<file> holding `source`, and the config (backend js added). */
export function putJsModel(
  root: string,
  name: string,
  source: string,
  config: Record<string, unknown>,
  options: { version?: number; file?: string } = {},
): string {
  const dir = join(root, name, String(options.version ?? 1));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, options.file ?? 'model.mjs');
  writeFileSync(file, source);
  putConfig(root, name, { backend: 'js', ...config });
  return dir;
}

/** An ensemble: its config and an empty version directory (as Triton wants one). */
export function putEnsemble(root: string, name: string, config: Record<string, unknown>, version = 1): void {
  mkdirSync(join(root, name, String(version)), { recursive: true });
  putConfig(root, name, { platform: 'ensemble', ...config });
}

/** A tensor config entry (Triton's form). */
export const tensor = (name: string, dataType: string, dims: number[]) => ({ name, data_type: dataType, dims });

export interface V2Tensor {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
}

/** A v2 inference request (the JSON form; a gRPC test builds ModelInferRequest from the same fields). */
export interface V2Request {
  id?: string;
  inputs: V2Tensor[];
  outputs?: Array<{ name: string }>;
  parameters?: Record<string, unknown>;
}

export function v2Request(inputs: Record<string, { datatype: string; shape: number[]; data: unknown[] }>, options: { id?: string; outputs?: string[]; parameters?: Record<string, unknown> } = {}): V2Request {
  return {
    ...(options.id !== undefined ? { id: options.id } : {}),
    inputs: Object.entries(inputs).map(([name, t]) => ({ name, ...t })),
    ...(options.outputs ? { outputs: options.outputs.map((name) => ({ name })) } : {}),
    ...(options.parameters ? { parameters: options.parameters } : {}),
  };
}

/** FP32 [rows, n] input `x` (the common case). */
export const fp32 = (rows: number[][], name = 'x') => ({ [name]: { datatype: 'FP32', shape: [rows.length, rows[0]?.length ?? 0], data: rows.flat() } });

export interface InferResult {
  status: number;
  body: any;
  http: HttpResult;
  /** An output's data (throws when absent). */
  out(name: string): any[];
}

export async function infer(port: number, model: string, body: V2Request, options: { version?: string; signal?: AbortSignal; headers?: Record<string, string> } = {}): Promise<InferResult> {
  const path = `/v2/models/${model}${options.version ? `/versions/${options.version}` : ''}/infer`;
  const http = await request(port, 'POST', path, { body: JSON.stringify(body), ...(options.signal ? { signal: options.signal } : {}), ...(options.headers ? { headers: options.headers } : {}) });
  const parsed = http.body.length ? JSON.parse(http.text()) : undefined;
  return {
    status: http.status,
    body: parsed,
    http,
    out(name: string) {
      const o = (parsed?.outputs ?? []).find((t: { name: string }) => t.name === name);
      if (!o) throw new Error(`no output '${name}' in ${http.text()}`);
      return o.data;
    },
  };
}

export async function indexOf(port: number): Promise<Array<{ name: string; version?: string; state: string; reason?: string }>> {
  return (await post(port, '/v2/repository/index', {})).json();
}

export async function metricsText(port: number): Promise<string> {
  return (await get(port, '/metrics')).text();
}

/** The value of one exposition line, matched by metric name and label subset. */
export function metricValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf('}'));
    if (Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

const CONTENTS: Record<string, string> = {
  BOOL: 'bool_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

/** The same request as a gRPC ModelInferRequest (protobufjs object form: typed contents, parameters). */
export function grpcRequest(model: string, r: V2Request): Record<string, unknown> {
  const parameter = (v: unknown): Record<string, unknown> =>
    typeof v === 'boolean' ? { bool_param: v } : typeof v === 'number' && Number.isInteger(v) ? { int64_param: String(v) } : typeof v === 'number' ? { double_param: v } : { string_param: typeof v === 'string' ? v : JSON.stringify(v) };
  return {
    model_name: model,
    ...(r.id !== undefined ? { id: r.id } : {}),
    inputs: r.inputs.map((t) => ({
      name: t.name,
      datatype: t.datatype,
      shape: t.shape.map(String),
      contents: { [CONTENTS[t.datatype]!]: t.datatype === 'BYTES' ? t.data.map((d) => Buffer.from(String(d))) : t.datatype.endsWith('64') && t.datatype !== 'FP64' ? t.data.map(String) : t.data },
    })),
    ...(r.outputs ? { outputs: r.outputs } : {}),
    ...(r.parameters ? { parameters: Object.fromEntries(Object.entries(r.parameters).map(([k, v]) => [k, parameter(v)])) } : {}),
  };
}
