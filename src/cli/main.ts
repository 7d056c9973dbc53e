#!/usr/bin/env node
// tensorgate command line: `tensorgate <command> ...` (see commands.ts).
import { COMMANDS } from './commands.js';

async function usage(): Promise<string> {
  const lines = ['Usage: tensorgate <command> [options]   (tensorgate <command> --help for its options)', '', 'Commands:'];
  for (const [name, load] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(16)}${(await load()).summary}`);
  return `${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(await usage());
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    process.stderr.write(`tensorgate: unknown command '${name}'\n\n${await usage()}`);
    return 2;
  }
  return (await load()).run(rest);
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // Let pino flush; native threads are stopped by the engine's teardown.
  setImmediate(() => process.exit(code));
});
