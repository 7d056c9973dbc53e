// Step 3 of the recommender: the encoder's output mean-pooled into a user vector, every catalog item
// scored by its dot product with it, recent items left out, the top k returned.
import { DIM, ITEMS, ITEM_EMBEDDINGS, TOPK, topK } from '../../../lib/catalog.mjs';

const ALL = Int32Array.from({ length: ITEMS }, (_, i) => i);

export function recommend(embedding, seq, recent) {
  const user = new Float64Array(DIM);
  for (let t = 0; t < seq; t++) for (let d = 0; d < DIM; d++) user[d] += embedding[t * DIM + d] / seq;
  const scores = new Float32Array(ITEMS);
  for (let i = 0; i < ITEMS; i++) {
    let s = 0;
    for (let d = 0; d < DIM; d++) s += user[d] * ITEM_EMBEDDINGS[i * DIM + d];
    scores[i] = s;
  }
  const best = topK(ALL, scores, TOPK, new Set(recent));
  return { ids: Int32Array.from(best), scores: Float32Array.from(best, (i) => scores[i]) };
}

export function execute(requests) {
  return requests.map((r) => {
    const e = r.inputs.embedding;
    const { ids, scores } = recommend(e.data, e.shape[1], Array.from(r.inputs.recent_items.data));
    return { outputs: { item_ids: { shape: [TOPK], data: ids }, scores: { shape: [TOPK], data: scores } } };
  });
}
