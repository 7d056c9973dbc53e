// `tensorgate serve`: start the server and stop it gracefully on SIGTERM/SIGINT.
import { pino } from 'pino';
import { addonChoice } from '../engine/binding.js';
import { describeChoice } from '../platform/flavour.js';
import { uwsStatus } from '../server/uws-load.js';
import type { Command } from './commands.js';
import { banner } from './console/banner.js';
import { LoadProgress } from './console/load-progress.js';
import { prettyDestination } from './console/pretty-log.js';
import { parseServeArgs, USAGE } from './options.js';
import { packageVersion, startServer } from './serve.js';

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
    const pretty = options.logFormat === 'pretty' || (options.logFormat === 'auto' && process.stdout.isTTY === true);
    const progress = pretty ? new LoadProgress((line) => process.stdout.write(line)) : undefined;
    const logger = pretty
      ? pino({ level: options.logLevel }, prettyDestination(process.stdout, (r) => progress!.observe(r)))
      : pino({ level: options.logLevel });
    const started = performance.now();
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
      progress?.stop();
    }
    if (pretty) {
      const choice = addonChoice();
      const uws = uwsStatus();
      process.stdout.write(
        banner(
          {
            version: packageVersion(),
            host: options.host,
            startedMs: performance.now() - started,
            running,
            ...(options.httpEngine === 'auto' && !uws.ok && uws.reason ? { uwsReason: uws.reason } : {}),
            ...(choice ? { addon: describeChoice(choice) } : {}),
          },
          process.stdout.isTTY === true && !process.env.NO_COLOR,
        ),
      );
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
