// Calls nested in other calls (ensemble steps, calls from JavaScript models): the chain of models a
// call is part of, bounded so that a chain that loops through ensembles cannot recurse for ever.
import { TensorgateError } from '../engine/errors.js';

/** The most models one request may pass through, nested. */
export const MAX_CALL_DEPTH = 16;

export function chainText(chain: readonly string[]): string {
  return chain.join(' -> ');
}

/** The chain of a call into `model` made within `chain`; throws once it is deeper than MAX_CALL_DEPTH. */
export function enterChain(chain: readonly string[] | undefined, model: string): readonly string[] {
  const next = chain === undefined ? [model] : [...chain, model];
  if (next.length > MAX_CALL_DEPTH) {
    throw new TensorgateError('INTERNAL', `call chain deeper than ${MAX_CALL_DEPTH} models (${chainText(next)}): models calling each other in a loop?`);
  }
  return next;
}
