// `tensorgate serve`: start the server and stop it gracefully on SIGTERM/SIGINT.
import { pino } from 'pino';
import type { Command } from './commands.js';
import { parseServeArgs, USAGE } from './options.js';
import { startServer } from './serve.js';

export const SERVE_COMMAND: Command = {
  summary: 'serve a model repository over HTTP (KServe v2) and gRPC',
  async run(argv: string[]): Promise<number> {
    let options;
    try {
      options = parseServeArgs(argv);
    } catch (err) {
      process.stderr.write(`tensorgate: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (options === 'help') {
      process.stdout.write(USAGE);
      return 0;
    }
    const logger = pino({ level: options.logLevel });
    // A signal during start-up (models loading, threads starting) stops the server once it is up.
    let early: string | undefined;
    const onEarly = (signal: string) => (early ??= signal);
    process.once('SIGTERM', onEarly);
    process.once('SIGINT', onEarly);
    let running;
    try {
      running = await startServer(options, logger);
    } catch (err) {
      logger.fatal({ err: (err as Error).message }, 'cannot start');
      return 1;
    } finally {
      process.off('SIGTERM', onEarly);
      process.off('SIGINT', onEarly);
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
      if (early !== undefined) stop(early);
    });
  },
};
