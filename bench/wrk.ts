// Load generation with wrk (Debian's package), shared by the HTTP and cache benchmarks: one wrk
// thread in a separate process, µs-resolution percentiles from --latency.
import { spawnSync, type ChildProcess } from 'node:child_process';

export interface WrkResult {
  rps: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  requests: number;
  errors: number;
}

function micros(text: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'us' ? 1 : m[2] === 'ms' ? 1000 : 1e6);
}

export function parseWrk(out: string): WrkResult {
  const pct = (p: string) => micros(new RegExp(`^\\s*${p}%\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '');
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    p50_us: pct('50'),
    p90_us: pct('90'),
    p99_us: pct('99'),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    errors: non2xx + (sock ? sock.slice(1).reduce((n, v) => n + Number(v), 0) : 0),
  };
}

export function checkWrk(): void {
  if (spawnSync('wrk', ['--version']).error) throw new Error('wrk is not installed (Debian: apt-get install wrk)');
}

export function runWrk(url: string, connections: number, seconds: number, script: string, threads = 1): WrkResult {
  const args = [`-t${Math.max(1, Math.min(threads, connections))}`, `-c${connections}`, `-d${Math.max(1, Math.round(seconds))}s`, '--latency', '-s', script, url];
  const r = spawnSync('wrk', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  return parseWrk(r.stdout);
}

/** Polls a POST until it answers 200 (the server is up and its models are loaded). */
export async function waitReady(child: ChildProcess, url: string, body: string): Promise<void> {
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not become ready`);
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}
