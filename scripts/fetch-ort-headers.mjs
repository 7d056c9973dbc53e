#!/usr/bin/env node
// Puts ONNX Runtime's C headers where CMakeLists.txt looks for them (.deps/onnxruntime/include).
// ORT's headers are not on npm; Debian trixie ships them alone in libonnxruntime-dev (1.21, ~85 KB).
// We fetch that .deb with a private apt state dir (the host's apt config is untouched and no root
// install happens), check its sha256, and unpack it with dpkg -x. ORT_INCLUDE_DIR skips all of this.
// The Debian mirror is the one this machine's apt already uses (its sources in /etc/apt, so a local
// mirror or proxy keeps working; apt.conf.d proxy settings apply too), or TENSORGATE_DEBIAN_MIRROR.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, '.deps', 'onnxruntime', 'include');
const DEB = 'libonnxruntime-dev';
const VERSION = '1.21.0+dfsg-1';
const SHA256 = '14f7d959d5deacbcf1504830d4189f91fc67382b399ed9ae9d3aa9c4050ced08';
const SUITE = 'trixie';
const DEFAULT_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** apt source entries from deb822 `.sources` text: one per stanza. */
export function parseDeb822(text) {
  return text
    .split(/\n\s*\n/)
    .map((stanza) => {
      const fields = {};
      let last;
      for (const line of stanza.split('\n')) {
        if (line.startsWith('#') || !line.trim()) continue;
        if (/^\s/.test(line) && last) fields[last] += ` ${line.trim()}`;
        const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
        if (m) fields[(last = m[1].toLowerCase())] = m[2].trim();
      }
      const list = (k) => (fields[k] ?? '').split(/\s+/).filter(Boolean);
      return { types: list('types'), uris: list('uris'), suites: list('suites'), components: list('components'), signedBy: fields['signed-by'], enabled: fields.enabled !== 'no' };
    })
    .filter((e) => e.enabled && e.uris.length > 0);
}

/** apt source entries from one-line `sources.list` text. */
export function parseSourcesList(text) {
  const entries = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const signedBy = /signed-by=(\S+)/.exec(m[2] ?? '')?.[1];
    entries.push({ types: [m[1]], uris: [m[3]], suites: [m[4]], components: m[5].split(/\s+/).filter(Boolean), signedBy, enabled: true });
  }
  return entries;
}

/**
 * The Debian archive this machine's apt uses: the first `deb` entry for a release suite (no
 * -updates/-security) with the main component. Its URI and keyring, or undefined.
 */
export function debianMirror(etc = '/etc/apt') {
  const entries = [];
  const dir = join(etc, 'sources.list.d');
  if (existsSync(join(etc, 'sources.list'))) entries.push(...parseSourcesList(readFileSync(join(etc, 'sources.list'), 'utf8')));
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).sort()) {
      if (f.endsWith('.sources')) entries.push(...parseDeb822(readFileSync(join(dir, f), 'utf8')));
      else if (f.endsWith('.list')) entries.push(...parseSourcesList(readFileSync(join(dir, f), 'utf8')));
    }
  }
  const archive = entries.find(
    (e) => e.types.includes('deb') && e.components.includes('main') && e.suites.some((s) => /^[a-z]+$/.test(s)) && !e.uris[0].includes('security'),
  );
  return archive ? { uri: archive.uris[0], keyring: archive.signedBy ?? DEFAULT_KEYRING } : undefined;
}

function mirror() {
  const fromEnv = process.env.TENSORGATE_DEBIAN_MIRROR;
  if (fromEnv) return { uri: fromEnv, keyring: DEFAULT_KEYRING };
  const found = debianMirror();
  if (!found) {
    throw new Error('no Debian archive in /etc/apt/sources.list or /etc/apt/sources.list.d; set TENSORGATE_DEBIAN_MIRROR to a Debian mirror URL');
  }
  return found;
}

export function ortIncludeDir() {
  const fromEnv = process.env.ORT_INCLUDE_DIR;
  if (fromEnv) {
    if (!existsSync(join(fromEnv, 'onnxruntime_c_api.h'))) {
      throw new Error(`ORT_INCLUDE_DIR=${fromEnv} does not contain onnxruntime_c_api.h`);
    }
    return fromEnv;
  }
  if (existsSync(join(target, 'onnxruntime_c_api.h'))) return target;
  fetchFromDebian();
  return target;
}

/** Fetches the pinned libonnxruntime-dev and copies its headers into `into`. */
export function fetchFromDebian(into = target) {
  const work = mkdtempSync(join(tmpdir(), 'tensorgate-ort-headers-'));
  try {
    for (const d of ['lists/partial', 'cache/archives/partial', 'etc/sources.list.d', 'etc/preferences.d']) {
      mkdirSync(join(work, d), { recursive: true });
    }
    const { uri, keyring } = mirror();
    writeFileSync(join(work, 'etc/sources.list'), `deb [signed-by=${keyring}] ${uri} ${SUITE} main\n`);
    const apt = [
      `-o=Dir::State=${work}`,
      `-o=Dir::State::Lists=${work}/lists`,
      `-o=Dir::State::status=${work}/status`,
      `-o=Dir::Cache=${work}/cache`,
      `-o=Dir::Etc::SourceList=${work}/etc/sources.list`,
      `-o=Dir::Etc::SourceParts=${work}/etc/sources.list.d`,
      `-o=Dir::Etc::Preferences=${work}/etc/preferences.d`,
      '-o=Debug::NoLocking=1',
      '-o=APT::Sandbox::User=root',
      '-qq',
    ];
    writeFileSync(join(work, 'status'), '');
    const run = (args) => execFileSync('apt-get', [...apt, ...args], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
    console.error(`tensorgate: fetching ONNX Runtime headers (${DEB} ${VERSION}) from Debian ${SUITE} (the mirror in this machine's apt sources)`);
    run(['update']);
    run(['download', `${DEB}=${VERSION}`]);
    const deb = readdirSync(work).find((f) => f.startsWith(DEB) && f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download produced no ${DEB} package`);
    const sum = createHash('sha256').update(readFileSync(join(work, deb))).digest('hex');
    if (sum !== SHA256) throw new Error(`${deb}: sha256 ${sum} does not match the pinned ${SHA256}`);
    execFileSync('dpkg', ['-x', join(work, deb), join(work, 'x')]);
    rmSync(into, { recursive: true, force: true });
    mkdirSync(dirname(into), { recursive: true });
    cpSync(join(work, 'x/usr/include/onnxruntime'), into, { recursive: true });
  } catch (err) {
    throw new Error(
      `could not fetch ONNX Runtime headers from Debian (${err.message}). ` +
        'Set ORT_INCLUDE_DIR to a directory holding onnxruntime_c_api.h (ORT >= 1.21).',
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(ortIncludeDir());
}
