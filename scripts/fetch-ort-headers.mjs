#!/usr/bin/env node
// Puts ONNX Runtime's C headers where CMakeLists.txt looks for them (.deps/onnxruntime/include).
// ORT's headers are not on npm; Debian trixie ships them alone in libonnxruntime-dev (1.21, ~85 KB).
// We fetch that .deb with a private apt state dir (the host's apt config is untouched and no root
// install happens), check its sha256, and unpack it with dpkg -x. ORT_INCLUDE_DIR skips all of this.
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

function fetchFromDebian() {
  const work = mkdtempSync(join(tmpdir(), 'tensorgate-ort-headers-'));
  try {
    for (const d of ['lists/partial', 'cache/archives/partial', 'etc/sources.list.d', 'etc/preferences.d']) {
      mkdirSync(join(work, d), { recursive: true });
    }
    writeFileSync(
      join(work, 'etc/sources.list'),
      'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main\n',
    );
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
    console.error(`tensorgate: fetching ONNX Runtime headers (${DEB} ${VERSION}) from Debian trixie`);
    run(['update']);
    run(['download', `${DEB}=${VERSION}`]);
    const deb = readdirSync(work).find((f) => f.startsWith(DEB) && f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download produced no ${DEB} package`);
    const sum = createHash('sha256').update(readFileSync(join(work, deb))).digest('hex');
    if (sum !== SHA256) throw new Error(`${deb}: sha256 ${sum} does not match the pinned ${SHA256}`);
    execFileSync('dpkg', ['-x', join(work, deb), join(work, 'x')]);
    rmSync(target, { recursive: true, force: true });
    mkdirSync(dirname(target), { recursive: true });
    cpSync(join(work, 'x/usr/include/onnxruntime'), target, { recursive: true });
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
