// Interleaved rounds: every system is measured once per round, rounds repeat, and each figure is
// reported as the median with its min and max over rounds. On a shared, noisy machine a single pass
// per system proves nothing; interleaving spreads the noise over every system alike.
export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const median = n === 0 ? NaN : n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  return { median, min: sorted[0] ?? NaN, max: sorted[n - 1] ?? NaN, runs: [...values] };
}

/** "12.3k (11.9–12.8k)" style text of a spread, with `digits` significant decimals. */
export function spreadText(s: Spread, format: (v: number) => string = (v) => String(Math.round(v))): string {
  return `${format(s.median)} (${format(s.min)}–${format(s.max)})`;
}

/**
 * Runs `measure(system, cell)` for every (cell, system) in each of `rounds` rounds, systems in a
 * rotated order each round (so no system always goes first), and gathers each metric's spread.
 */
export async function interleave<S extends string, C, M extends Record<string, number>>(
  rounds: number,
  systems: readonly S[],
  cells: readonly C[],
  measure: (system: S, cell: C, round: number) => Promise<M> | M,
  progress?: (text: string) => void,
): Promise<Array<{ system: S; cell: C; metrics: Record<keyof M, Spread> }>> {
  const runs = new Map<string, { system: S; cell: C; values: Array<M> }>();
  for (let round = 0; round < rounds; round++) {
    for (const cell of cells) {
      const order = systems.map((_, i) => systems[(i + round) % systems.length]!);
      for (const system of order) {
        const m = await measure(system, cell, round);
        const key = `${system}\u0000${JSON.stringify(cell)}`;
        let entry = runs.get(key);
        if (!entry) runs.set(key, (entry = { system, cell, values: [] }));
        entry.values.push(m);
        progress?.(`round ${round + 1}/${rounds} ${system} ${JSON.stringify(cell)}`);
      }
    }
  }
  return [...runs.values()].map(({ system, cell, values }) => {
    const metrics = {} as Record<keyof M, Spread>;
    for (const k of Object.keys(values[0]!) as Array<keyof M>) metrics[k] = spread(values.map((v) => v[k]));
    return { system, cell, metrics };
  });
}
