// A real redis-server for tests: a child process on a free loopback port, no persistence. start() waits
// until it answers PING; stop() (SIGTERM), kill() (SIGKILL) and restart() (same port) for failure tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';

const HOST = '127.0.0.1';

/** Whether redis-server is on PATH (tests that need it are skipped otherwise, with a message). */
export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

import { freePort } from './fixtures.js';

export { freePort };

/** One PING over a raw socket: true on +PONG within `timeoutMs`. */
export function ping(port: number, timeoutMs = 200): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: HOST, port });
    let buf = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
    sock.on('error', () => done(false));
  });
}

export class RedisServer {
  readonly port: number;
  #child: ChildProcess | undefined;
  #log = '';

  private constructor(port: number) {
    this.port = port;
  }

  /** Starts redis-server on `port` (default: a free one) and waits until it answers PING. */
  static async start(port?: number): Promise<RedisServer> {
    const server = new RedisServer(port ?? (await freePort()));
    await server.#spawn();
    return server;
  }

  get url(): string {
    return `redis://${HOST}:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async #spawn(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--loglevel', 'warning'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#child = child;
    this.#log = '';
    const collect = (d: Buffer): void => {
      if (this.#log.length < 8192) this.#log += d.toString();
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`redis-server exited during start (code ${child.exitCode}, signal ${child.signalCode}): ${this.#log}`);
      }
      if (await ping(this.port)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    child.kill('SIGKILL');
    throw new Error(`redis-server on port ${this.port} did not answer PING within 10 s: ${this.#log}`);
  }

  async #signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  /** Graceful stop (SIGTERM), waiting for the exit. */
  stop(): Promise<void> {
    return this.#signal('SIGTERM');
  }

  /** Abrupt stop (SIGKILL), waiting for the exit. */
  kill(): Promise<void> {
    return this.#signal('SIGKILL');
  }

  /** Starts again on the same port (after stop() or kill()). */
  async restart(): Promise<void> {
    await this.#signal('SIGKILL');
    await this.#spawn();
  }
}
