// The `tensorgate` commands: name -> what it does, in one table (`tensorgate --help` lists them).
// A command parses its own arguments and returns the process exit code.
export interface Command {
  /** One line for `tensorgate --help`. */
  summary: string;
  run(argv: string[]): Promise<number>;
}

export const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve-command.js')).SERVE_COMMAND,
  optimize: async () => (await import('./optimize-command.js')).OPTIMIZE_COMMAND,
  quantize: async () => (await import('./quantize-command.js')).QUANTIZE_COMMAND,
  'convert-fp16': async () => (await import('./convert-fp16-command.js')).CONVERT_FP16_COMMAND,
  'build-engine': async () => (await import('./build-engine-command.js')).BUILD_ENGINE_COMMAND,
  forecast: async () => (await import('./forecast-command.js')).FORECAST_COMMAND,
  doctor: async () => (await import('./doctor-command.js')).DOCTOR_COMMAND,
  perf: async () => (await import('../perf/perf-command.js')).PERF_COMMAND,
};
