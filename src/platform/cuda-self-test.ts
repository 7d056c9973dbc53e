// The CUDA flavour's self-test, run in a child process before the server process loads the binary
// (node-llama-cpp's approach): a CUDA build on a machine whose driver or runtime is missing or
// mismatched may abort at load or on first use, and that must never take the server down. The child
// loads the binary, asks it for the CUDA runtime and devices, starts ONNX Runtime, and opens a
// session on the embedded probe model with the CUDA provider first.
import { spawnSync } from 'node:child_process';
import { loadOptionsSchema, nativeInitOptions, parseEngineOptions, parseOptions, toNativeBatching, toNativeSession } from '../engine/options.js';
import { resolveOrtLibrary } from '../engine/ort-library.js';
import type { CudaSelfTest } from './flavour.js';
import { PROBE_MODEL_BASE64 } from './probe-model.js';

// CommonJS on purpose: runs with `node -e`, with no loader and nothing of ours but the binary.
const CHILD = `
const [file, payload] = [process.argv[1], JSON.parse(process.argv[2])];
const done = (o) => { process.stdout.write(JSON.stringify(o)); process.exit(0); };
let b;
try { b = require(file); } catch (e) { done({ ok: false, stage: 'load', error: e.message }); }
const c = typeof b.cudaStatus === 'function' ? b.cudaStatus() : { compiled: false, reason: 'the binary reports no CUDA status' };
const v = (n) => Math.floor(n / 1000) + '.' + Math.floor((n % 1000) / 10);
const detail = c.compiled ? c.deviceCount + ' device(s), CUDA runtime ' + v(c.runtimeVersion) + ' (' + c.library + '), driver API ' + v(c.driverVersion) : undefined;
if (!c.compiled || c.deviceCount < 1) done({ ok: false, stage: 'cuda', error: c.reason, detail });
try { b.init(payload.init); } catch (e) { done({ ok: false, stage: 'ort', error: e.message, detail }); }
b.setErrorFactory((code, message) => Object.assign(new Error(message), { code }));
b.setCompletionHandler(() => {});
b.loadModel(Buffer.from(payload.model, 'base64'), payload.session, payload.batching).then(
  (m) => {
    const p = m.info().providers.find((x) => x.name === 'cuda');
    done(p && p.active ? { ok: true, detail } : { ok: false, stage: 'provider', error: (p && p.reason) || 'the CUDA provider is not active', detail });
  },
  (e) => done({ ok: false, stage: 'session', error: e.message, detail }),
);
`;

export interface SelfTestOptions {
  timeoutMs?: number;
  /** The libonnxruntime to test with (default: the one the CUDA flavour would load). */
  ortLibrary?: string;
}

export function cudaSelfTest(file: string, options: SelfTestOptions = {}): CudaSelfTest {
  let library: string;
  try {
    library = options.ortLibrary ?? resolveOrtLibrary(undefined, 'cuda');
  } catch (err) {
    return { ok: false, stage: 'ort', error: (err as Error).message };
  }
  const load = parseOptions(loadOptionsSchema, { executionProviders: ['cuda'], maxBatchSize: 0 }, 'self-test');
  const payload = {
    init: nativeInitOptions(parseEngineOptions({ intraOpThreads: 1, interOpThreads: 1 }), library),
    session: toNativeSession(load),
    batching: toNativeBatching(load),
    model: PROBE_MODEL_BASE64,
  };
  const child = spawnSync(process.execPath, ['-e', CHILD, file, JSON.stringify(payload)], {
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const stderr = child.stderr?.trim().split('\n').slice(-3).join(' | ');
  if (child.error) return { ok: false, stage: 'timeout', error: `${child.error.message}${stderr ? `: ${stderr}` : ''}` };
  if (child.signal) return { ok: false, stage: 'crash', error: `the child process died with ${child.signal}${stderr ? `: ${stderr}` : ''}` };
  try {
    return JSON.parse(child.stdout) as CudaSelfTest;
  } catch {
    return { ok: false, stage: 'crash', error: `the child process exited with code ${child.status} and no answer${stderr ? `: ${stderr}` : ''}` };
  }
}
