// The fallback's last step: the tree ensemble's score of each candidate, recent items left out, the
// top k returned.
import { TOPK, topK } from '../../../lib/catalog.mjs';

export function execute(requests) {
  return requests.map((r) => {
    const ids = r.inputs.cand_ids.data;
    const scores = r.inputs.tree_scores.data;
    const best = topK(ids, scores, TOPK, new Set(r.inputs.recent_items.data));
    return { outputs: { item_ids: { shape: [TOPK], data: Int32Array.from(best, (i) => ids[i]) }, scores: { shape: [TOPK], data: Float32Array.from(best, (i) => scores[i]) } } };
  });
}
