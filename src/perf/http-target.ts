// The HTTP side of `tensorgate perf`: keep-alive connections written with raw sockets (a request is
// a pre-encoded buffer; a response is read only as far as its status and length), so that the client
// costs little next to the server it measures, and the metadata/statistics calls through fetch.
import { connect, type Socket } from 'node:net';
import type { DataType } from '../engine/datatype.js';
import type { ModelInfo, Payload } from './inputs.js';
import { countersOf, type Outcome, type Sender, type ServerCounters, type Target } from './target.js';

function hostPort(url: string): { host: string; port: number } {
  const at = url.lastIndexOf(':');
  const host = at > 0 ? url.slice(0, at).replace(/^\[|\]$/g, '') : url;
  const port = at > 0 ? Number(url.slice(at + 1)) : 80;
  if (!Number.isInteger(port) || port <= 0) throw new Error(`-u ${url}: expected HOST:PORT`);
  return { host, port };
}

/** Bytes read per socket read, into one buffer per connection reused for every read. */
const READ_BUFFER = 64 * 1024;

class HttpConnection implements Sender {
  readonly #socket: Socket;
  readonly #head: string;
  readonly #cache = new WeakMap<Payload, Buffer>();
  /** A response head split over reads (copied: the read buffer is reused). */
  #partial: Buffer | undefined;
  /** Bytes of the current response (head and body) still to come; -1 until its head is read. */
  #left = -1;
  #status = 0;
  #errorBody: Buffer[] | undefined;
  #done: ((o: Outcome) => void) | undefined;
  #failed: Error | undefined;

  constructor(socket: Socket, head: string) {
    this.#socket = socket;
    this.#head = head;
    socket.setNoDelay(true);
    const fail = (err: Error) => {
      this.#failed ??= err;
      this.#finish({ ok: false, error: err.message });
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('the server closed the connection')));
  }

  get alive(): boolean {
    return this.#failed === undefined;
  }

  send(payload: Payload): Promise<Outcome> {
    if (this.#failed) return Promise.resolve({ ok: false, error: this.#failed.message });
    let bytes = this.#cache.get(payload);
    if (!bytes) {
      let head = this.#head;
      for (const [k, v] of Object.entries(payload.headers)) head += `${k}: ${v}\r\n`;
      bytes = Buffer.concat([Buffer.from(`${head}content-length: ${payload.body.length}\r\n\r\n`, 'latin1'), payload.body]);
      this.#cache.set(payload, bytes);
    }
    return new Promise((resolve) => {
      this.#done = resolve;
      this.#socket.write(bytes);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  /** net's onread: `buf` holds `nread` new bytes, valid only during this call. One request is outstanding. */
  read(nread: number, buf: Uint8Array): boolean {
    let chunk = Buffer.from(buf.buffer, buf.byteOffset, nread);
    if (this.#left < 0) {
      if (this.#partial) chunk = Buffer.concat([this.#partial, chunk]);
      const end = chunk.indexOf('\r\n\r\n');
      if (end < 0) {
        this.#partial = Buffer.from(chunk);
        return true;
      }
      this.#partial = undefined;
      const head = chunk.toString('latin1', 0, end);
      this.#status = Number(head.slice(9, 12));
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      this.#left = end + 4 + (m ? Number(m[1]) : 0);
      if (this.#status < 200 || this.#status >= 300) {
        this.#errorBody = [];
        chunk = chunk.subarray(end + 4);
        this.#left -= end + 4;
      }
    }
    if (this.#errorBody) this.#errorBody.push(Buffer.from(chunk));
    this.#left -= chunk.length;
    if (this.#left > 0) return true;
    this.#left = -1;
    const errorBody = this.#errorBody;
    this.#errorBody = undefined;
    this.#finish(errorBody ? { ok: false, error: `HTTP ${this.#status}: ${Buffer.concat(errorBody).toString('utf8').slice(0, 300)}` } : { ok: true });
    return true;
  }

  #finish(outcome: Outcome): void {
    const done = this.#done;
    this.#done = undefined;
    done?.(outcome);
  }
}

export class HttpTarget implements Target {
  readonly protocol = 'http' as const;
  readonly #host: string;
  readonly #port: number;
  readonly #base: string;
  readonly #path: string;
  readonly #headers: Record<string, string>;
  readonly #model: string;
  readonly #version: string | undefined;
  readonly #open = new Set<HttpConnection>();

  constructor(url: string, model: string, version: string | undefined, headers: Record<string, string>) {
    ({ host: this.#host, port: this.#port } = hostPort(url));
    this.#base = `http://${url}`;
    this.#model = model;
    this.#version = version;
    this.#path = `/v2/models/${encodeURIComponent(model)}${version !== undefined ? `/versions/${encodeURIComponent(version)}` : ''}`;
    this.#headers = headers;
  }

  async #json(path: string): Promise<Record<string, unknown>> {
    const url = `${this.#base}${path}`;
    let res: Response;
    try {
      res = await fetch(url, { headers: this.#headers });
    } catch (err) {
      // The pooled keep-alive connection was closed by the server while idle (uWS closes idle ones
      // after 10 s): the first request on it fails. A GET is safe to send again, on a new connection.
      if ((err as { cause?: { code?: string } }).cause?.code !== 'UND_ERR_SOCKET') throw err;
      res = await fetch(url, { headers: this.#headers });
    }
    const text = await res.text();
    if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text) as Record<string, unknown>;
  }

  async info(): Promise<ModelInfo> {
    const meta = await this.#json(this.#path);
    const config = await this.#json(`${this.#path}/config`).catch(() => ({}) as Record<string, unknown>);
    const tensors = (list: unknown) => (Array.isArray(list) ? (list as Array<{ name: string; datatype: DataType; shape: number[] }>) : []);
    return {
      inputs: tensors(meta.inputs).map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape.map(Number) })),
      outputs: tensors(meta.outputs).map((t) => t.name),
      maxBatchSize: Number(config.max_batch_size ?? 0),
    };
  }

  async counters(): Promise<ServerCounters | undefined> {
    try {
      const stats = await this.#json(`${this.#path}/stats`);
      return countersOf((stats.model_stats ?? []) as Array<Record<string, unknown>>);
    } catch {
      return undefined;
    }
  }

  sender(): Promise<Sender> {
    let head = `POST ${this.#path}/infer HTTP/1.1\r\nhost: ${this.#host}:${this.#port}\r\n`;
    for (const [k, v] of Object.entries(this.#headers)) head += `${k}: ${v}\r\n`;
    return new Promise((resolve, reject) => {
      let connection: HttpConnection | undefined;
      // onread: reads land in one reused buffer and go straight to the parser (no stream, no Buffer per read).
      const socket = connect({ host: this.#host, port: this.#port, onread: { buffer: Buffer.allocUnsafe(READ_BUFFER), callback: (n, b) => connection!.read(n, b) } });
      connection = new HttpConnection(socket, head);
      socket.once('connect', () => {
        this.#open.add(connection!);
        resolve(connection!);
      });
      socket.once('error', reject);
    });
  }

  get model(): string {
    return this.#version === undefined ? this.#model : `${this.#model}/${this.#version}`;
  }

  async close(): Promise<void> {
    for (const c of this.#open) c.close();
    this.#open.clear();
  }
}
