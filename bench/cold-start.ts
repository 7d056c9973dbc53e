// Cold start of `tensorgate serve` with the example repository: process start -> the HTTP port answers
// (live), -> /v2/health/ready is 200 (every model READY), -> the first inference answer (tiny, then
// mlp). Polls every 2 ms; each run is a fresh process, stopped with SIGTERM (the stop time is
// reported too). What scale from zero costs on top of scheduling and pulling the image.
//
// Usage: tsx bench/cold-start.ts [--runs N] [--repository DIR] [--json FILE] [-- COMMAND...]
// COMMAND defaults to `node dist/cli/main.js`; the image smoke test passes
// `chroot --userspec=10001:10001 ROOTFS /usr/local/bin/node /app/dist/cli/main.js` (then --repository
// is the path inside the root, /models by default there).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from './common.js';
import { machineRecorder } from './lib/machine.js';
import { spread, type Spread } from './lib/rounds.js';

const recorder = machineRecorder(ROOT);
const dashdash = process.argv.indexOf('--');
const own = dashdash < 0 ? process.argv.slice(2) : process.argv.slice(2, dashdash);
const command = dashdash < 0 ? [process.execPath, join(ROOT, 'dist', 'cli', 'main.js')] : process.argv.slice(dashdash + 1);
const { values } = parseArgs({
  args: own,
  options: { runs: { type: 'string', default: '10' }, repository: { type: 'string' }, json: { type: 'string' } },
});
const runs = Number(values.runs);
const repository = values.repository ?? (dashdash < 0 ? join(ROOT, 'examples', 'models') : '/models');

const freePort = () =>
  new Promise<number>((res, rej) => {
    const s = createServer().on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => res(port));
    });
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => Number(process.hrtime.bigint()) / 1e6;

// The gRPC front's port flag where this build has one (0: off, so runs never collide on 8001).
const help = spawnSync(command[0]!, [...command.slice(1), 'serve', '--help'], { encoding: 'utf8' }).stdout ?? '';
const grpcOff = help.includes('--grpc-port') ? ['--grpc-port', '0'] : [];

async function status(url: string, init?: RequestInit): Promise<number> {
  try {
    const r = await fetch(url, init);
    await r.arrayBuffer();
    return r.status;
  } catch {
    return 0;
  }
}

const infer = (shape: [number, number]): RequestInit => ({
  method: 'POST',
  body: JSON.stringify({ inputs: [{ name: 'x', shape, datatype: 'FP32', data: new Array(shape[1]).fill(0.5) }] }),
});

async function once() {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const t0 = now();
  const child = spawn(command[0]!, [...command.slice(1), 'serve', '--model-repository', repository, '--host', '127.0.0.1', '--http-port', String(port), '--log-level', 'warn', ...grpcOff], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  const exit = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
  const until = async (cond: () => Promise<boolean>, what: string): Promise<number> => {
    for (;;) {
      if (await cond()) return now() - t0;
      if (exited) throw new Error(`exited before ${what}: ${stderr}`);
      if (now() - t0 > 60_000) throw new Error(`no ${what} within 60 s`);
      await sleep(2);
    }
  };
  const live = await until(async () => (await status(`${base}/v2/health/live`)) === 200, 'live');
  const ready = await until(async () => (await status(`${base}/v2/health/ready`)) === 200, 'ready');
  const tiny = await until(async () => (await status(`${base}/v2/models/tiny/infer`, infer([1, 16]))) === 200, 'tiny answer');
  const mlp = await until(async () => (await status(`${base}/v2/models/mlp/infer`, infer([1, 256]))) === 200, 'mlp answer');
  const t1 = now();
  child.kill('SIGTERM');
  await exit;
  return { liveMs: live, readyMs: ready, firstAnswerTinyMs: tiny, firstAnswerMlpMs: mlp, stopMs: now() - t1 };
}

const rows: Array<Awaited<ReturnType<typeof once>>> = [];
for (let i = 0; i < runs; i++) rows.push(await once());
const keys = Object.keys(rows[0]!) as Array<keyof (typeof rows)[number]>;
const stats = Object.fromEntries(keys.map((k) => [k, spread(rows.map((r) => r[k]))])) as Record<(typeof keys)[number], Spread>;
const fmt = (s: Spread) => `${s.median.toFixed(0).padStart(6)} ms  (${s.min.toFixed(0)}–${s.max.toFixed(0)})`;
process.stdout.write(`cold start, ${runs} runs, ${command.join(' ')}\n`);
for (const k of keys) process.stdout.write(`  ${k.padEnd(18)} ${fmt(stats[k])}\n`);
const result = {
  what: 'process start -> live, ready, first answers (tiny, mlp); SIGTERM -> exit',
  command: command.join(' '),
  repository,
  runs,
  stats,
  machine: recorder.record(),
};
const out = values.json ?? join(ROOT, 'bench', 'results', 'cold-start.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`wrote ${out} (CPU steal during the runs: ${(result.machine.steal * 100).toFixed(1)} %)\n`);
