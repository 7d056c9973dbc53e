// Per-model scheduling configuration, with Triton's field names and semantics
// (model_config.proto: max_batch_size, dynamic_batching, ModelQueuePolicy, instance_group.count).
// The addon sets every field from the engine options, whose defaults live in src/engine/options.ts;
// the initializers here are only the neutral values (no batching, no limits, no spinning) that the
// standalone scheduler tests start from.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

namespace tg {

struct QueuePolicy {
  uint64_t max_queue_size = 0;              // 0: unbounded
  uint64_t default_timeout_microseconds = 0;  // 0: none
  bool timeout_action_delay = false;        // REJECT (false) or DELAY (true)
  bool allow_timeout_override = false;
};

struct BatchingConfig {
  int64_t max_batch_size = 0;  // 0: the model has no batch dimension; requests run one by one
  // > 0: decide from the model, like Triton's auto-complete: when every input and output has a
  // dynamic first dim the model batches up to this size with dynamic batching on; else 0.
  int64_t auto_max_batch_size = 0;
  bool dynamic_batching = false;
  std::vector<int64_t> preferred_batch_size;
  uint64_t max_queue_delay_microseconds = 0;
  uint32_t priority_levels = 0;         // 0 or 1: a single level
  uint32_t default_priority_level = 0;  // 1-based like Triton; 0: the middle... see Levels()
  QueuePolicy default_queue_policy;
  std::map<uint32_t, QueuePolicy> priority_queue_policy;  // keyed by 1-based level
  uint32_t instance_count = 1;  // the minimum: one runner
  uint32_t spin_microseconds = 0;  // how long an idle scheduler polls before it parks

  uint32_t Levels() const { return priority_levels == 0 ? 1 : priority_levels; }
  // 0-based index of the level a request with `priority` (1-based, 0 = default) goes to.
  uint32_t LevelIndex(uint32_t priority) const {
    uint32_t p = priority == 0 ? default_priority_level : priority;
    if (p == 0) p = (Levels() + 1) / 2;  // Triton: default level is required when levels > 1; be lenient
    if (p > Levels()) p = Levels();
    return p - 1;
  }
  const QueuePolicy& PolicyFor(uint32_t level_index) const {
    auto it = priority_queue_policy.find(level_index + 1);
    return it == priority_queue_policy.end() ? default_queue_policy : it->second;
  }
  bool Batches() const { return max_batch_size > 0; }
};

}  // namespace tg
