// The content hash of a model version: SHA-256 over its files (sorted by name, streamed) and its config
// fingerprint. The same on every replica serving the same bytes, different after any change, so the
// shared (Redis) cache tier can key on it.
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export async function hashVersion(dir: string, configPrint: string): Promise<string> {
  const hash = createHash('sha256');
  hash.update(configPrint);
  for (const file of readdirSync(dir).sort()) {
    const path = join(dir, file);
    if (!statSync(path).isFile()) continue;
    hash.update(`\0${file}\0`);
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

/** The content hash of a version that is its config alone (a route). */
export function hashConfig(configPrint: string): string {
  return createHash('sha256').update(configPrint).digest('hex');
}
