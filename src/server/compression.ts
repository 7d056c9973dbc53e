// Content-Encoding for request bodies (gzip, deflate) and Accept-Encoding for responses. Inflation is
// bounded by the body limit, so a small compressed bomb cannot expand past it.
import { promisify } from 'node:util';
import { deflate, gzip, inflate, gunzip } from 'node:zlib';
import { ProtocolError } from '../protocol/errors.js';

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);
const gzipAsync = promisify(gzip);
const deflateAsync = promisify(deflate);

/** Responses smaller than this are sent as they are: compressing them costs more than it saves. */
export const COMPRESS_MIN_BYTES = 1024;

export async function decodeBody(body: Buffer, encoding: string | undefined, limit: number): Promise<Buffer> {
  if (!encoding || encoding === 'identity') return body;
  const e = encoding.trim().toLowerCase();
  if (e !== 'gzip' && e !== 'deflate') {
    throw new ProtocolError(415, `unsupported Content-Encoding '${encoding}' (use gzip or deflate)`);
  }
  try {
    return await (e === 'gzip' ? gunzipAsync(body, { maxOutputLength: limit }) : inflateAsync(body, { maxOutputLength: limit }));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new ProtocolError(413, `decompressed request body exceeds the limit of ${limit} bytes`);
    }
    throw new ProtocolError(400, `cannot decode ${e} request body: ${(err as Error).message}`);
  }
}

/** The response encoding the client accepts (gzip preferred), or undefined. */
export function acceptedEncoding(header: string | undefined): 'gzip' | 'deflate' | undefined {
  if (!header) return undefined;
  let deflateOk = false;
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q && Number(q.slice(2)) === 0) continue;
    if (name === 'gzip' || name === '*') return 'gzip';
    if (name === 'deflate') deflateOk = true;
  }
  return deflateOk ? 'deflate' : undefined;
}

export function encodeBody(body: Buffer, encoding: 'gzip' | 'deflate'): Promise<Buffer> {
  return encoding === 'gzip' ? gzipAsync(body) : deflateAsync(body);
}
