// The layout of the completion descriptor, the TypeScript twin of native/js/completion_layout.h. The
// addon exports its own numbers (completionLayout); binding.ts refuses to start when they differ from
// these, so the two cannot drift apart silently.
export const COMPLETION_LAYOUT = {
  // Request header.
  slot: 0,
  status: 1,
  queueNs: 2,
  computeNs: 3,
  batchSize: 4,
  outputs: 5,
  requestWords: 6,
  // Per output (the dims follow).
  outIndex: 0,
  outType: 1,
  outBuffer: 2,
  outOffset: 3,
  outLength: 4,
  outRank: 5,
  outputWords: 6,
} as const;

export type CompletionLayout = { readonly [K in keyof typeof COMPLETION_LAYOUT]: number };

/** The names of the fields that differ between the addon's layout and this one (empty: none). */
export function layoutDrift(native: Partial<CompletionLayout>): string[] {
  const drift: string[] = [];
  for (const key of Object.keys(COMPLETION_LAYOUT) as Array<keyof typeof COMPLETION_LAYOUT>) {
    if (native[key] !== COMPLETION_LAYOUT[key]) drift.push(`${key}: addon ${String(native[key])}, TypeScript ${COMPLETION_LAYOUT[key]}`);
  }
  return drift;
}
