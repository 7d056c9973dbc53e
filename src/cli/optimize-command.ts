// `tensorgate optimize MODEL`: ONNX Runtime's graph optimizations saved offline, then the report
// (node counts by op type before/after, load time before/after).
import type { Command } from './commands.js';
import { COMMON_USAGE } from './optimize-args.js';
import { runOptimizeCommand } from './optimize-runner.js';
import { optimizeGraph, type OptimizationLevel } from '../optimize/graph-optimize.js';

const LEVELS = ['basic', 'extended', 'all'] as const;

const USAGE = `Usage: tensorgate optimize MODEL (-o OUT | --repository DIR --model NAME) [options]

Runs ONNX Runtime's graph optimizations once and saves the result, so loading it later skips them.
The report compares the original loaded at --level with the result loaded without optimization.

  --level basic|extended|all   default all. basic: constant folding, redundant nodes, Conv+BatchNorm
                               (portable). extended: fusions into ONNX Runtime contrib ops (ONNX Runtime
                               only). all: adds NCHWc layouts sized for this CPU (valid only on CPUs like it)

${COMMON_USAGE}`;

function level(value: unknown): OptimizationLevel {
  const l = (value ?? 'all') as string;
  if (!(LEVELS as readonly string[]).includes(l)) throw new Error(`--level: ${LEVELS.join(', ')}; not '${l}'`);
  return l as OptimizationLevel;
}

export const OPTIMIZE_COMMAND: Command = {
  summary: "save an ONNX model with ONNX Runtime's graph optimizations applied offline",
  run: (argv) =>
    runOptimizeCommand(
      {
        name: 'optimize',
        usage: USAGE,
        flags: { level: { type: 'string' } },
        prepare({ input, values, externalData }) {
          const l = level(values.level);
          if (externalData === 'always') throw new Error('--external-data always: optimize writes through ONNX Runtime, which moves weights out only for models that had external data');
          return (engine, output) => optimizeGraph(engine, { input, output, level: l });
        },
        baselineLoad: ({ values }) => ({ graphOptimizationLevel: level(values.level) }),
        candidateLoad: { graphOptimizationLevel: 'disabled' },
      },
      argv,
    ),
};
