// Loads uWebSockets.js's native binary for this Node ABI, or says exactly why it cannot. The package's
// own entry point hides a missing binary behind a slow pure-JS imitation (it prints a warning and
// carries on), so we require the binary file itself: on a Node whose ABI it does not ship (22 = ABI
// 127, 24 = ABI 137 with @trufflesuite/uws-js-unofficial 20.30) the server then falls back to its
// own node:http transport, logged, shown by `tensorgate doctor`, and documented.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Uws } from './uws-transport.js';

export const UWS_PACKAGE = '@trufflesuite/uws-js-unofficial';

export interface UwsStatus {
  ok: boolean;
  /** The binary that loads (or would), when the package is installed. */
  binary?: string;
  version?: string;
  /** Why it does not load. */
  reason?: string;
}

const require = createRequire(import.meta.url);

function locate(): { binary: string; version: string; abis: string[] } | { reason: string } {
  let pkgFile: string;
  try {
    pkgFile = require.resolve(`${UWS_PACKAGE}/package.json`);
  } catch {
    return { reason: `${UWS_PACKAGE} is not installed (an optional dependency; reinstall without --omit=optional)` };
  }
  const dir = join(dirname(pkgFile), 'binaries');
  const version = (JSON.parse(readFileSync(pkgFile, 'utf8')) as { version: string }).version;
  const prefix = `uws_${process.platform}_${process.arch}_`;
  const abis = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.startsWith(prefix) && f.endsWith('.node'))
        .map((f) => f.slice(prefix.length, -'.node'.length))
        .sort((a, b) => Number(a) - Number(b))
    : [];
  return { binary: join(dir, `${prefix}${process.versions.modules}.node`), version, abis };
}

let cached: { uws?: Uws; status: UwsStatus } | undefined;

function attempt(): { uws?: Uws; status: UwsStatus } {
  const where = locate();
  if ('reason' in where) return { status: { ok: false, reason: where.reason } };
  const { binary, version, abis } = where;
  if (!existsSync(binary)) {
    const reason =
      `${UWS_PACKAGE}@${version} has no binary for Node ${process.versions.node} (ABI ${process.versions.modules}) on ` +
      `${process.platform}-${process.arch}; it ships ABIs ${abis.join(', ') || 'none for this platform'}`;
    return { status: { ok: false, version, reason } };
  }
  try {
    return { uws: require(binary) as Uws, status: { ok: true, binary, version } };
  } catch (err) {
    return { status: { ok: false, binary, version, reason: (err as Error).message.split('\n')[0]! } };
  }
}

/** Whether uWebSockets.js loads in this process, and why not. Loads it on first call. */
export function uwsStatus(): UwsStatus {
  cached ??= attempt();
  return cached.status;
}

/** Loads uWS, or throws with the reason it cannot. */
export function loadUws(): Uws {
  cached ??= attempt();
  if (!cached.uws) throw new Error(`uWebSockets.js cannot load: ${cached.status.reason}`);
  return cached.uws;
}
