// Child process for repository-control.test.ts: opens a repository in poll mode over argv[2] (which
// holds a model that cannot load), polls for a while, and reports on stdout whether it is still alive.
// Run as `node --import tsx repo-crash-child.ts <root>`; no unhandled-rejection handler is installed,
// so Node's default (crash on an unhandled rejection) applies, as in the real server.
import { Engine } from '../../src/engine/index.js';
import { ModelRepository } from '../../src/repository/repository.js';

const root = process.argv[2]!;
const quiet = { info() {}, warn() {}, error() {} };
const repo = await ModelRepository.open({ root, engine: Engine.create({ logger: { warn() {} } }), controlMode: 'poll', pollSeconds: 0.05, logger: quiet });
process.stdout.write(`opened ready=${repo.ready()}\n`);
await new Promise((r) => setTimeout(r, 400));
await repo.poll();
process.stdout.write(`alive index=${JSON.stringify(repo.index().map((e) => e.state))}\n`);
await repo.close();
process.stdout.write('closed\n');
