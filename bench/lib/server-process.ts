// `tensorgate serve` as a child process for the long-running scripts (soak, live fuzz, overload): from
// dist/ when it is built (what users run), else from src/ through tsx; its readiness; and its own
// process figures read from its /metrics (prom-client's default metrics: RSS, heap, handles, fds).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../common.js';

export interface ServerProcess {
  child: ChildProcess;
  httpPort: number;
  grpcPort: number;
  /** Resolves with the exit code or signal when the process ends. */
  exited: Promise<number | string>;
  stop(): Promise<void>;
}

/** Starts `tensorgate serve <args>` (add --http-port/--grpc-port yourself) and waits for /v2/health/live. */
export async function startServer(args: string[], httpPort: number, grpcPort: number, env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  const dist = join(ROOT, 'dist', 'cli', 'main.js');
  const entry = existsSync(dist) ? [dist] : ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts')];
  const child = spawn(process.execPath, [...entry, 'serve', '--http-port', String(httpPort), '--grpc-port', String(grpcPort), '--log-level', 'warn', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, NODE_OPTIONS: '', ...env },
  });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const end = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`tensorgate serve exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${httpPort}/v2/health/ready`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > end) throw new Error('tensorgate serve did not become ready in 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    httpPort,
    grpcPort,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface ProcessSample {
  /** Seconds since the sampler started. */
  t: number;
  rssBytes: number;
  heapUsedBytes: number;
  handles: number;
  fds: number;
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

/** The server's own RSS, heap, handles and open fds, from its /metrics. */
export async function sampleProcess(httpPort: number, t0: number): Promise<ProcessSample> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  return {
    t: (performance.now() - t0) / 1000,
    rssBytes: metric(text, 'process_resident_memory_bytes'),
    heapUsedBytes: metric(text, 'nodejs_heap_size_used_bytes'),
    handles: metric(text, 'nodejs_active_handles_total'),
    fds: metric(text, 'process_open_fds'),
  };
}

/** A loopback port nobody listens on right now. */
export { freePort } from '../../test/helpers/fixtures.js';
