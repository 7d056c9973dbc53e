#!/usr/bin/env node
// tensorgate command line: `tensorgate serve ...`.
import { pino } from 'pino';
import { parseServeArgs, USAGE } from './options.js';
import { startServer } from './serve.js';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== 'serve') {
    process.stderr.write(command === undefined || command === '--help' || command === '-h' ? USAGE : `unknown command '${command}'\n\n${USAGE}`);
    return command === undefined || command === '--help' || command === '-h' ? 0 : 2;
  }
  let options;
  try {
    options = parseServeArgs(rest);
  } catch (err) {
    process.stderr.write(`tensorgate: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const logger = pino({ level: options.logLevel });
  let running;
  try {
    running = await startServer(options, logger);
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, 'cannot start');
    return 1;
  }
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down: readiness off, finishing in-flight requests');
      running.stop().then(
        (drained) => {
          logger.info({ drained }, 'stopped');
          resolveExit(0);
        },
        (err: Error) => {
          logger.error({ err: err.message }, 'shutdown failed');
          resolveExit(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // Let pino flush; native threads are stopped by the engine's teardown.
  setImmediate(() => process.exit(code));
});
