// The progress line of `tensorgate perf` on a terminal (stderr, redrawn in place): the step, the
// window being measured and how far it is, and the throughput so far. Nothing when not a terminal.
export class Progress {
  readonly #enabled: boolean;
  #last = '';

  constructor(enabled: boolean) {
    this.#enabled = enabled && process.stderr.isTTY === true;
  }

  show(step: number, steps: number, label: string, state: { window: number; maxWindows: number; fraction: number; throughput: number; warming: boolean }): void {
    if (!this.#enabled) return;
    const width = 24;
    const filled = Math.max(0, Math.min(width, Math.round(state.fraction * width)));
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    const phase = state.warming ? 'warm-up  ' : `window ${state.window}/${state.maxWindows}`;
    const rate = Number.isFinite(state.throughput) ? `${Math.round(state.throughput)} infer/s` : '';
    const text = `[${step}/${steps}] ${label} ${bar} ${phase} ${rate}`;
    process.stderr.write(`\r${text.padEnd(this.#last.length)}`);
    this.#last = text;
  }

  clear(): void {
    if (!this.#enabled || !this.#last) return;
    process.stderr.write(`\r${' '.repeat(this.#last.length)}\r`);
    this.#last = '';
  }
}
