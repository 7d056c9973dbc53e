// uWebSockets.js loads from its native binary or not at all: never through the package's hidden
// pure-JS imitation. On a Node whose ABI has no binary the reason names the ABI and the server
// falls back to node:http, saying so.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { serveOptionsSchema } from '../src/cli/options.js';
import { startServer } from '../src/cli/serve.js';
import { uwsStatus, UWS_PACKAGE } from '../src/server/uws-load.js';
import { EXAMPLES } from './helpers/engine.js';

const require = createRequire(import.meta.url);
const binary = join(
  dirname(require.resolve(`${UWS_PACKAGE}/package.json`)),
  'binaries',
  `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`,
);

describe(`uWebSockets.js on Node ${process.versions.node} (ABI ${process.versions.modules})`, () => {
  it('loads exactly when the package ships a binary for this ABI, and otherwise says which ABIs it has', () => {
    const status = uwsStatus();
    expect(status.ok).toBe(existsSync(binary));
    if (!status.ok) expect(status.reason).toMatch(new RegExp(`ABI ${process.versions.modules}\\b.*ships ABIs \\d+`));
    else expect(status.binary).toBe(binary);
  });

  it('with --http-engine auto the server uses uWS when it loads, else node:http with a warning naming the reason', async () => {
    const lines: Array<{ msg: string; err?: string; transport?: string }> = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as (typeof lines)[number]) });
    const options = serveOptionsSchema.parse({ modelRepository: EXAMPLES, httpPort: 0, grpcPort: 0, httpEngine: 'auto', loadModel: [], modelControlMode: 'explicit' });
    const server = await startServer(options, logger);
    try {
      expect(server.server.transportKind).toBe(uwsStatus().ok ? 'uws' : 'node');
      const warning = lines.find((l) => l.msg.includes('uWebSockets.js cannot load'));
      if (uwsStatus().ok) expect(warning).toBeUndefined();
      else expect(warning?.err).toContain(`ABI ${process.versions.modules}`);
    } finally {
      await server.stop();
    }
  });
});
