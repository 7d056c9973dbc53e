// The frame of `optimize`, `quantize` and `convert-fp16`: parse, transform into the output file (a
// temporary one when the result only goes to a repository), then report, check and publish.
// Exit codes: 0 done, 1 failed or a --check failed, 2 bad arguments.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import { Engine, type LoadOptions } from '../engine/index.js';
import { finish } from '../optimize/finish.js';
import { readModelFile, shortPath } from '../optimize/model-file.js';
import type { QuantizeResult } from '../optimize/quantize.js';
import { parseOptimizeArgs, type ParsedCommon } from './optimize-args.js';

export interface OptimizeCommandSpec {
  name: string;
  usage: string;
  flags: NonNullable<ParseArgsConfig['options']>;
  /** Validates the command's own flags (throwing a usage error) and returns the transform to run. */
  prepare(args: ParsedCommon): (engine: Engine, output: string) => Promise<QuantizeResult>;
  baselineLoad?(args: ParsedCommon): LoadOptions;
  candidateLoad?: LoadOptions;
}

export async function runOptimizeCommand(spec: OptimizeCommandSpec, argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  let args: ParsedCommon | 'help';
  let transform: ReturnType<OptimizeCommandSpec['prepare']>;
  try {
    args = parseOptimizeArgs(argv, spec.flags);
    if (args === 'help') {
      out.write(spec.usage);
      return 0;
    }
    transform = spec.prepare(args);
  } catch (err) {
    process.stderr.write(`tensorgate ${spec.name}: ${(err as Error).message}\n\n${spec.usage}`);
    return 2;
  }
  const print = (text: string) => out.write(text);
  const temp = args.target.output ? undefined : mkdtempSync(join(tmpdir(), 'tensorgate-out-'));
  const output = args.target.output ?? join(temp!, 'model.onnx');
  try {
    const engine = Engine.create({ ortLogLevel: 'error' });
    const result = await transform(engine, output);
    print(`${result.lines.join('\n')}\n`);
    if (args.target.output) print(`wrote ${result.written.files.map((f) => shortPath(f)).join(', ')}\n`);
    const original = await readModelFile(args.input);
    return await finish({
      command: spec.name,
      engine,
      original: { path: args.input, bytes: original.bytes },
      optimized: { path: output, bytes: result.written.bytes, files: result.written.files },
      transform: result.transform,
      flags: result.flags,
      settings: args.settings,
      target: args.target,
      ...(spec.baselineLoad ? { baselineLoad: spec.baselineLoad(args) } : {}),
      ...(spec.candidateLoad ? { candidateLoad: spec.candidateLoad } : {}),
      print,
    });
  } catch (err) {
    process.stderr.write(`tensorgate ${spec.name}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    if (temp) rmSync(temp, { recursive: true, force: true });
  }
}
