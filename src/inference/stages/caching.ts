// Whether a served version's responses go through the response cache (its config's response_cache).
import type { ServedVersion } from '../../repository/index.js';

export function caches(target: ServedVersion): boolean {
  return target.config.response_cache?.enable === true;
}
