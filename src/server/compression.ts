// Content-Encoding for request bodies (gzip, deflate) and Accept-Encoding for responses. Inflation is
// bounded by the body limit, so a small compressed bomb cannot expand past it, and lands `pad` bytes
// into a fresh buffer, as the transports receive plain bodies: the binary tensors after the JSON header
// are then aligned and decode as views instead of copies.
import { promisify } from 'node:util';
import { createGunzip, createInflate, deflate, gzip } from 'node:zlib';
import { ProtocolError } from '../protocol/errors.js';

const gzipAsync = promisify(gzip);
const deflateAsync = promisify(deflate);

/** Inflates `body` into one buffer that starts `pad` bytes into its memory; rejects past `limit` bytes. */
function inflateTo(body: Buffer, kind: 'gzip' | 'deflate', limit: number, pad: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const stream = kind === 'gzip' ? createGunzip() : createInflate();
    const chunks: Buffer[] = [];
    let total = 0;
    stream.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) {
        stream.destroy(Object.assign(new Error('Cannot create a Buffer larger than the limit'), { code: 'ERR_BUFFER_TOO_LARGE' }));
        return;
      }
      chunks.push(chunk);
    });
    stream.on('error', reject);
    stream.on('end', () => {
      const out = Buffer.allocUnsafeSlow(pad + total);
      let at = pad;
      for (const c of chunks) {
        out.set(c, at);
        at += c.length;
      }
      resolve(out.subarray(pad));
    });
    stream.end(body);
  });
}

/** Responses smaller than this are sent as they are: compressing them costs more than it saves. */
export const COMPRESS_MIN_BYTES = 1024;

export async function decodeBody(body: Buffer, encoding: string | undefined, limit: number, pad = 0): Promise<Buffer> {
  if (!encoding || encoding === 'identity') return body;
  const e = encoding.trim().toLowerCase();
  if (e !== 'gzip' && e !== 'deflate') {
    throw new ProtocolError(415, `unsupported Content-Encoding '${encoding}' (use gzip or deflate)`);
  }
  try {
    return await inflateTo(body, e, limit, pad);
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
