// Step 1 of the recommender: a request (user id, recent item ids, free text) as tokens for the encoder
// (one embedding per token: the user, each recent item, each word), and the candidate items with their
// features for the tree-ensemble fallback.
import { CANDIDATES, DIM, FEATURES, MAX_RECENT, MAX_WORDS, POPULARITY, embed, hash32, tokenize } from '../../../lib/catalog.mjs';

export function features(userId, recent, text) {
  const words = tokenize(text).slice(0, MAX_WORDS);
  const keys = [`user:${userId}`, ...Array.from(recent.slice(-MAX_RECENT), (i) => `item:${i}`), ...words.map((w) => `word:${w}`)];
  const tokens = new Float32Array(keys.length * DIM);
  keys.forEach((key, t) => embed(key, tokens, t * DIM));
  // Candidates: popular items not seen recently, rotated by the user so users differ.
  const seen = new Set(recent);
  const start = hash32(`user:${userId}`) % 200;
  const candIds = new Int32Array(CANDIDATES);
  const candFeatures = new Float32Array(CANDIDATES * FEATURES);
  const wordHashes = words.map((w) => hash32(`word:${w}`));
  for (let c = 0, i = start; c < CANDIDATES; i++) {
    const item = i % POPULARITY.length;
    if (seen.has(item)) continue;
    candIds[c] = item;
    const affinity = (hash32(`${userId}:${item}`) % 2000) / 1000 - 1;
    const textMatch = wordHashes.some((h) => h % 97 === item % 97) ? 1 : -1;
    const f = [POPULARITY[item] * 2 - 1, affinity, textMatch, (recent.length / MAX_RECENT) * 2 - 1, ((item % 13) / 13) * 2 - 1, Math.sin(item), Math.cos(item * 0.5), words.length / MAX_WORDS - 0.5];
    candFeatures.set(f, c * FEATURES);
    c++;
  }
  return { tokens, count: keys.length, candIds, candFeatures };
}

export function execute(requests) {
  return requests.map((r) => {
    const userId = String(r.inputs.user_id.data[0]);
    const recent = Array.from(r.inputs.recent_items.data);
    const text = r.inputs.text.data[0].toString('utf8');
    const f = features(userId, recent, text);
    return {
      outputs: {
        tokens: { shape: [1, f.count, DIM], data: f.tokens },
        cand_ids: { shape: [CANDIDATES], data: f.candIds },
        cand_features: { shape: [CANDIDATES, FEATURES], data: f.candFeatures },
      },
    };
  });
}
