// What `tensorgate serve` shows a person: readable log lines and a banner on a terminal (or with
// --log-format pretty), JSON lines otherwise, and progress while a model load runs long.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseServeArgs } from '../src/cli/options.js';
import { LoadProgress } from '../src/cli/console/load-progress.js';
import { formatRecord, prettyDestination } from '../src/cli/console/pretty-log.js';
import { spawnServe } from './helpers/http-child.js';
import { EXAMPLES, ROOT } from './helpers/engine.js';
import { until } from './helpers/fixtures.js';

describe('pretty log lines', () => {
  it('time, level, message, then the other fields as key=value, quoting what needs it', () => {
    const time = new Date(2026, 0, 2, 3, 4, 5).getTime();
    const line = formatRecord({ level: 40, time, pid: 1, hostname: 'h', msg: 'model load failed', model: 'mlp', err: 'bad file', n: 3 }, false);
    expect(line).toBe('03:04:05 WARN  model load failed model=mlp err="bad file" n=3\n');
  });

  it('colours the level only on a terminal, and passes non-JSON through untouched', () => {
    const out: string[] = [];
    const sink = { write: (s: string) => void out.push(s), isTTY: true } as unknown as NodeJS.WritableStream & { isTTY: boolean };
    const saved = process.env.NO_COLOR;
    delete process.env.NO_COLOR;
    try {
      const dest = prettyDestination(sink as never);
      dest.write(`${JSON.stringify({ level: 30, time: 0, msg: 'hi' })}\n`);
      dest.write('not json\n');
    } finally {
      if (saved !== undefined) process.env.NO_COLOR = saved;
    }
    expect(out[0]).toContain('\u001b[32mINFO');
    expect(out[1]).toBe('not json\n');
  });
});

describe('load progress', () => {
  it('after a few seconds a load still running is reported, then every few seconds, and never after it is ready', () => {
    let now = 0;
    const lines: string[] = [];
    const p = new LoadProgress((l) => lines.push(l), { after: 3000, every: 5000, now: () => now });
    p.observe({ level: 30, time: 0, msg: 'loading model version', model: 'encoder', version: '1', warmup: 2 });
    p.observe({ level: 30, time: 0, msg: 'loading model version', model: 'tiny', version: '1' });
    now = 1000;
    p.observe({ level: 30, time: 0, msg: 'model version ready', model: 'tiny', version: '1' });
    p.tick();
    expect(lines).toEqual([]);
    now = 3500;
    p.tick();
    now = 5000;
    p.tick(); // too soon for the next line
    now = 9000;
    p.tick();
    p.observe({ level: 50, time: 0, msg: 'model load failed', model: 'encoder', version: '1' });
    now = 20_000;
    p.tick();
    p.stop();
    expect(lines.map((l) => l.trim())).toEqual([
      '… still loading encoder v1: session and 2 model_warmup sample(s), 4 s so far',
      '… still loading encoder v1: session and 2 model_warmup sample(s), 9 s so far',
    ]);
  });
});

describe('tensorgate serve output', () => {
  it('--log-format pretty: readable lines, then a banner with the URLs and every model\'s state', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join('src', 'cli', 'main.ts'), 'serve', '--model-repository', EXAMPLES, '--http-port', '0', '--grpc-port', '0', '--log-format', 'pretty'], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (text += t));
    try {
      await until(() => text.includes('Stop ') || child.exitCode !== null, 'the banner', 60_000);
    } finally {
      child.kill('SIGKILL');
    }
    expect(text).toMatch(/INFO {2}listening host=127\.0\.0\.1 port=\d+/);
    expect(text).toMatch(/tensorgate \d+\.\d+\.\d+ ready in [\d.]+ s/);
    expect(text).toMatch(/HTTP {6}http:\/\/127\.0\.0\.1:\d+ {3}KServe v2 over (uWebSockets\.js|node:http)/);
    expect(text).toMatch(/Metrics {3}http:\/\/127\.0\.0\.1:\d+\/metrics/);
    expect(text).toMatch(/Status {4}http:\/\/127\.0\.0\.1:\d+\//);
    expect(text).toContain('gRPC      off (--grpc-port 0)');
    for (const model of ['encoder', 'mlp', 'tiny', 'trees']) expect(text).toContain(`✓ ${model} v1  READY`);
    expect(text).not.toMatch(/^\{"level"/m);
  });

  it('JSON lines when stdout is not a terminal (auto), or with --log-format json', async () => {
    const server = await spawnServe(['--model-repository', EXAMPLES]);
    try {
      expect(server.logs.every((l) => !l.unparsed)).toBe(true);
      expect(server.logs.find((l) => l.msg === 'loading model version')).toMatchObject({ model: expect.any(String), version: '1' });
    } finally {
      server.kill();
    }
  });

  it('--log-format takes auto, json or pretty', () => {
    expect(parseServeArgs(['--model-repository', 'x', '--log-format', 'json'])).toMatchObject({ logFormat: 'json' });
    expect(parseServeArgs(['--model-repository', 'x'])).toMatchObject({ logFormat: 'auto' });
    expect(() => parseServeArgs(['--model-repository', 'x', '--log-format', 'xml'])).toThrow(/--log-format/);
  });
});
