#include "scheduler/batch_policy.h"

#include <algorithm>

namespace tg {

bool SameNonBatchShape(const Request& a, const Request& b) {
  if (a.rows == 0 || b.rows == 0) return false;  // an empty request runs alone
  if (a.inputs.size() != b.inputs.size()) return false;
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    const auto& sa = a.inputs[i].shape;
    const auto& sb = b.inputs[i].shape;
    if (sa.size() != sb.size() || !std::equal(sa.begin() + (sa.empty() ? 0 : 1), sa.end(), sb.begin() + (sb.empty() ? 0 : 1))) {
      return false;
    }
  }
  return true;
}

BatchDecision DecideBatch(const PendingQueues& pending, const BatchingConfig& config, int64_t now_ns) {
  BatchDecision decision;
  if (pending.size == 0) return decision;

  // Without dynamic batching every request is its own execution, in cursor order.
  if (!config.Batches() || !config.dynamic_batching) {
    size_t index = 0;
    bool found = false;
    pending.ForEach([&](Request* r) {
      ++index;
      found = !IsDead(*r);
      return !found;
    });
    return BatchDecision{true, index, 0};
  }

  const int64_t max_rows = config.max_batch_size;
  int64_t max_preferred = max_rows;
  if (!config.preferred_batch_size.empty()) {
    max_preferred = *std::max_element(config.preferred_batch_size.begin(), config.preferred_batch_size.end());
  }
  auto is_preferred = [&](int64_t rows) {
    return std::find(config.preferred_batch_size.begin(), config.preferred_batch_size.end(), rows) !=
           config.preferred_batch_size.end();
  };

  const Request* first = nullptr;
  int64_t rows = 0;
  size_t take = 0;           // entries in the prefix, dead ones included
  size_t preferred_take = 0;  // prefix length where rows last equalled a preferred size
  int64_t oldest = INT64_MAX;
  bool send_now = false;  // cannot grow: next request has another shape, or would overflow
  pending.ForEach([&](Request* r) {
    if (IsDead(*r)) {
      ++take;
      return true;
    }
    if (first == nullptr) {
      first = r;
      if (r->rows == 0) {  // runs alone
        ++take;
        send_now = true;
        return false;
      }
    } else if (!SameNonBatchShape(*first, *r) || rows + r->rows > max_rows) {
      send_now = true;
      return false;
    } else if (!config.preferred_batch_size.empty() && preferred_take == 0 && rows + r->rows > max_preferred) {
      // Triton: the next request would pass the largest preferred size before any preferred size
      // was hit, so what is pending is the batch to send.
      send_now = true;
      return false;
    }
    rows += r->rows;
    ++take;
    oldest = std::min(oldest, r->enqueue_ns);
    if (is_preferred(rows)) preferred_take = take;
    return rows < max_rows;
  });

  if (first == nullptr) return BatchDecision{true, take, 0};  // only dead requests: drop them
  if (rows >= max_rows) send_now = true;

  // Triton's order: a preferred size was hit and the delay has not run out → send the largest
  // preferred prefix; full, blocked or at the largest preferred size → send all; no delay configured
  // or the oldest request waited long enough → send all; else wait for the oldest request's delay.
  const int64_t delay_ns = static_cast<int64_t>(config.max_queue_delay_microseconds) * 1000;
  const bool delay_exceeded = delay_ns != 0 && now_ns - oldest >= delay_ns;
  if (preferred_take > 0 && !delay_exceeded) return BatchDecision{true, preferred_take, 0};
  if (send_now || rows >= max_preferred) return BatchDecision{true, take, 0};
  if (delay_ns == 0 || delay_exceeded) return BatchDecision{true, take, 0};
  return BatchDecision{false, 0, oldest + delay_ns};
}

}  // namespace tg
