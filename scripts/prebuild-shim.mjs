#!/usr/bin/env node
// prebuildify drives node-gyp (`<node-gyp> rebuild --target=... --release`); our addon is a CMake
// project, so this stand-in ignores node-gyp's arguments and compiles with cmake-js into
// build/Release, where prebuildify picks up the .node file.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = join(dirname(fileURLToPath(import.meta.url)), 'install-native.mjs');
const result = spawnSync(process.execPath, [script, '--force'], { stdio: 'inherit' });
process.exit(result.status ?? 1);
