// The `tensorgate` commands: name -> what it does, in one table (`tensorgate --help` lists them).
// A command parses its own arguments and returns the process exit code.
export interface Command {
  /** One line for `tensorgate --help`. */
  summary: string;
  run(argv: string[]): Promise<number>;
}

export const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve-command.js')).SERVE_COMMAND,
  doctor: async () => (await import('./doctor-command.js')).DOCTOR_COMMAND,
};
