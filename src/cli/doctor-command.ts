// `tensorgate doctor`: what this machine gives the server, and a non-zero exit when something the
// configuration asks for (flags, a serve config file, a model repository's configs) is missing.
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { readFileSync } from 'node:fs';
import { parseCacheFlags } from '../cache/index.js';
import { diagnose, providersRequestedBy, satisfied, type DoctorReport, type DoctorRequest, type Finding } from '../platform/doctor.js';
import { FLAVOUR_REQUESTS, flavourRequest } from '../platform/flavour.js';
import type { Command } from './commands.js';
import { packageVersion } from './serve.js';

export const DOCTOR_USAGE = `Usage: tensorgate doctor [options]

Prints what this machine gives tensorgate: Node and N-API versions, the native addon flavour and
why, the ONNX Runtime library and version, the execution providers that load (and why the others
do not), CPU features, NVIDIA GPUs, uWebSockets.js, Redis. Exits 1 when something asked for below
is missing.

  --config FILE             a \`tensorgate serve\` config file: its httpEngine, cache and modelRepository count as asked for
  --model-repository DIR    the GPU providers its models' configs ask for must load
  --providers LIST          execution providers that must load, e.g. cuda,tensorrt
  --flavour auto|cpu|cuda   the addon flavour that must load (default: TENSORGATE_FLAVOUR, else auto)
  --http-engine auto|uws|node   uws: uWebSockets.js must load
  --redis-url URL           a Redis that must answer PING (repeatable)
  --cache SPEC              a serve --cache level; a redis level's url must answer (repeatable)
  --json                    the report as JSON
`;

const FLAGS = {
  config: { type: 'string' },
  'model-repository': { type: 'string' },
  providers: { type: 'string' },
  flavour: { type: 'string' },
  'http-engine': { type: 'string' },
  'redis-url': { type: 'string', multiple: true },
  cache: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface Parsed {
  request: DoctorRequest;
  json: boolean;
  notes: string[];
}

export function parseDoctorArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): Parsed | 'help' {
  const { values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false });
  if (values.help) return 'help';
  let file: { httpEngine?: string; cache?: string | string[]; modelRepository?: string } = {};
  if (values.config) {
    const text = readFileSync(values.config, 'utf8');
    file = (values.config.endsWith('.json') ? JSON.parse(text) : parseYaml(text)) ?? {};
  }
  const flavour = values.flavour ?? flavourRequest(env);
  if (!(FLAVOUR_REQUESTS as readonly string[]).includes(flavour)) throw new Error(`--flavour: expected one of ${FLAVOUR_REQUESTS.join(', ')}`);
  if (values.flavour) env.TENSORGATE_FLAVOUR = values.flavour; // the addon loader reads it
  const httpEngine = values['http-engine'] ?? file.httpEngine ?? 'auto';
  if (!['auto', 'uws', 'node'].includes(httpEngine)) throw new Error('--http-engine: expected auto, uws or node');
  const cacheSpecs = values.cache ?? (file.cache === undefined ? [] : Array.isArray(file.cache) ? file.cache : [file.cache]);
  const redisFromCache = parseCacheFlags(cacheSpecs).redis?.url;
  const providers = new Map<string, string[]>();
  for (const p of (values.providers ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)) providers.set(p, ['--providers']);
  const notes: string[] = [];
  const repository = values['model-repository'] ?? file.modelRepository;
  if (repository) {
    const found = providersRequestedBy(repository);
    for (const [name, who] of found.providers) providers.set(name, [...(providers.get(name) ?? []), ...who]);
    notes.push(...found.errors.map((e) => `repository: ${e}`));
  }
  return {
    request: {
      providers,
      ...(flavour !== 'auto' ? { flavour: flavour as 'cpu' | 'cuda' } : {}),
      uws: httpEngine === 'uws',
      redisUrls: [...new Set([...(values['redis-url'] ?? []), ...(redisFromCache ? [redisFromCache] : [])])],
    },
    json: values.json ?? false,
    notes,
  };
}

const mark = (f: Finding) => (f.ok ? '✓' : f.required ? '✗' : '·');
const cudaVersion = (n: number) => `${Math.floor(n / 1000)}.${Math.floor((n % 1000) / 10)}`;

export function formatReport(r: DoctorReport, notes: string[] = []): string {
  const lines: string[] = [`tensorgate ${r.tensorgate} doctor`, ''];
  const row = (label: string, text: string, more: string[] = []) => {
    lines.push(`${label.padEnd(14)}${text}`);
    for (const m of more) lines.push(`${''.padEnd(14)}${m}`);
  };
  const n = r.node;
  row('Node.js', `${n.version} (ABI ${n.abi}, N-API ${n.napi}) on ${n.platform}${n.glibc ? `, glibc ${n.glibc}` : n.libc ? `, ${n.libc}` : ''}`);
  const c = r.addon.choice;
  const file = c ? relative(process.cwd(), c.file) || c.file : '';
  row('Addon', `${mark(r.addon)} ${c ? `${c.flavour.toUpperCase()} flavour, ${file}` : 'not loaded'}`, [
    r.addon.detail,
    ...(c?.passedOver ?? []).filter((p) => !r.addon.detail.includes(p.reason)).map((p) => `passed over: ${p.what}: ${p.reason}`),
  ]);
  const cu = r.addon.cuda;
  if (cu) {
    row('CUDA', cu.compiled
      ? cu.runtimeLoaded
        ? `runtime ${cudaVersion(cu.runtimeVersion)} (${cu.library}), driver API ${cu.driverVersion ? cudaVersion(cu.driverVersion) : 'none'}, ${cu.deviceCount} device(s)${cu.reason ? `: ${cu.reason}` : ''}`
        : `compiled in; ${cu.reason}`
      : 'not in this binary (CPU flavour)');
  }
  const source = r.ort.candidates.find((x) => x.path === r.ort.library)?.source;
  row('ONNX Runtime', `${mark(r.ort)} ${r.ort.detail}${source ? ` from ${source}` : ''}`, [
    ...(r.ort.library ? [r.ort.library] : []),
    ...r.ort.candidates.filter((x) => x.path !== r.ort.library).map((x) => `also: ${x.source}: ${x.path}${x.exists ? '' : ' (absent)'}${x.providers.length ? ` [${x.providers.join(', ')} providers beside it]` : ''}`),
  ]);
  r.providers.forEach((p, i) =>
    row(i === 0 ? 'Providers' : '', `${mark(p)} ${p.name}: ${p.detail}${p.requiredBy.length ? ` (asked for by ${p.requiredBy.join(', ')})` : ''}`),
  );
  row('', '✓ cpu: always');
  const cpu = r.cpu;
  row('CPU', `${cpu.model}, ${cpu.logicalCpus} logical CPUs`, [
    `${cpu.features.join(' ') || 'no SIMD extensions listed'}${cpu.missing.length ? `  (not: ${cpu.missing.join(', ')})` : ''}`,
  ]);
  row('GPUs', r.gpus.gpus.length ? r.gpus.gpus.map((g) => `${g.model} [${g.bus}]`).join(', ') : `none: ${r.gpus.reason}`, r.gpus.driver ? [r.gpus.driver] : []);
  row('HTTP', `${mark(r.uws)} uWebSockets.js ${r.uws.detail}`);
  if (r.redis.length === 0) row('Redis', '· not checked (--redis-url URL or --cache redis,url=...)');
  r.redis.forEach((x, i) => row(i === 0 ? 'Redis' : '', `${mark(x)} ${x.url}: ${x.detail}`));
  for (const note of notes) row('Note', note);
  lines.push('');
  const missing = [r.addon, r.ort, ...r.providers, r.uws, ...r.redis].filter((f) => f.required && !f.ok).length;
  lines.push(missing === 0 ? 'Everything asked for is here.' : `${missing} thing(s) asked for are missing (marked ✗).`);
  return `${lines.join('\n')}\n`;
}

export const DOCTOR_COMMAND: Command = {
  summary: 'show what this machine gives the server (addon flavour, ONNX Runtime, providers, GPUs, uWS, Redis)',
  async run(argv: string[]): Promise<number> {
    let parsed;
    try {
      parsed = parseDoctorArgs(argv);
    } catch (err) {
      process.stderr.write(`tensorgate doctor: ${(err as Error).message}\n\n${DOCTOR_USAGE}`);
      return 2;
    }
    if (parsed === 'help') {
      process.stdout.write(DOCTOR_USAGE);
      return 0;
    }
    const report = await diagnose(parsed.request, packageVersion());
    process.stdout.write(parsed.json ? `${JSON.stringify({ ...report, notes: parsed.notes, satisfied: satisfied(report) }, null, 2)}\n` : formatReport(report, parsed.notes));
    return satisfied(report) ? 0 : 1;
  },
};
