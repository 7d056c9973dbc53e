#include "scheduler/scheduler.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "scheduler/spin_policy.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TG_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define TG_CPU_RELAX() asm volatile("yield" ::: "memory")
#else
#define TG_CPU_RELAX() ((void)0)
#endif

namespace tg {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Scheduler::Scheduler(const BatchingConfig& config, Executor executor, Dropper dropper)
    : config_(config), executor_(std::move(executor)), dropper_(std::move(dropper)), pending_(config.Levels()) {
  const uint32_t levels = config_.Levels();
  level_limits_.resize(levels);
  bool bounded = false;
  for (uint32_t i = 0; i < levels; ++i) {
    level_limits_[i] = config_.PolicyFor(i).max_queue_size;
    bounded = bounded || level_limits_[i] > 0;
  }
  if (bounded) {
    level_sizes_ = std::make_unique<std::atomic<int64_t>[]>(levels);
    for (uint32_t i = 0; i < levels; ++i) level_sizes_[i].store(0);
  }
  const uint32_t n = std::max<uint32_t>(1, config_.instance_count);
  for (uint32_t i = 0; i < n; ++i) runners_.emplace_back([this] { RunnerLoop(); });
}

Scheduler::~Scheduler() { Stop(); }

bool Scheduler::Enqueue(Request* request) {
  if (level_sizes_) {
    const uint64_t limit = level_limits_[request->level];
    if (limit > 0) {
      auto& size = level_sizes_[request->level];
      if (size.fetch_add(1, std::memory_order_relaxed) >= static_cast<int64_t>(limit)) {
        size.fetch_sub(1, std::memory_order_relaxed);
        return false;
      }
    }
  }
  incoming_.Push(request);
  // Dekker with Park(): our seq_cst exchange in Push precedes this load, the leader's store of
  // parked_ precedes its emptiness check, so one of us sees the other.
  if (parked_.load(std::memory_order_seq_cst) && parked_.exchange(false, std::memory_order_seq_cst)) {
    wake_.release();
  }
  return true;
}

void Scheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(lf_mu_);
    if (stop_.exchange(true, std::memory_order_seq_cst) && runners_.empty()) return;
  }
  if (parked_.exchange(false, std::memory_order_seq_cst)) wake_.release();
  lf_cv_.notify_all();
  for (auto& t : runners_) {
    if (t.joinable()) t.join();
  }
  runners_.clear();
}

void Scheduler::RunnerLoop() {
  std::vector<Request*> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(lf_mu_);
      lf_cv_.wait(lock, [&] { return !has_leader_ || stop_.load(); });
      if (stop_.load()) return;
      has_leader_ = true;
    }
    Lead(batch);
    {
      std::lock_guard<std::mutex> lock(lf_mu_);
      has_leader_ = false;
    }
    lf_cv_.notify_one();  // an idle follower becomes the leader while we run
    if (batch.empty()) return;  // stopping
    const int64_t t0 = NowNs();
    executor_(batch);
    const int64_t took = NowNs() - t0;
    const int64_t typical = typical_exec_ns_.load(std::memory_order_relaxed);
    typical_exec_ns_.store(typical == 0 ? took : typical - typical / 8 + took / 8, std::memory_order_relaxed);
    batch.clear();
  }
}

void Scheduler::Poke(bool flush) {
  if (flush) flushing_.store(true, std::memory_order_seq_cst);
  // Dekker with Park(), as in Enqueue: we store poked_ then read parked_; it stores parked_ then reads poked_.
  poked_.store(true, std::memory_order_seq_cst);
  if (parked_.load(std::memory_order_seq_cst) && parked_.exchange(false, std::memory_order_seq_cst)) {
    wake_.release();
  }
}

void Scheduler::Lead(std::vector<Request*>& batch) {
  for (;;) {
    // Cleared before looking at the queues: a poke after this point makes the next Park return.
    const bool poked = poked_.exchange(false, std::memory_order_seq_cst);
    DrainIncoming();
    const int64_t now = NowNs();
    if (poked) PurgeDead();
    if (next_deadline_ != 0 && next_deadline_ <= now) ApplyTimeouts(now);
    // Flushing: decide as if every delay had run out (nothing can join a batch any more).
    const bool flushing = flushing_.load(std::memory_order_relaxed);
    const BatchDecision decision = DecideBatch(pending_, config_, flushing ? std::numeric_limits<int64_t>::max() / 2 : now);
    if (decision.send) {
      Take(decision.take, batch);
      if (!batch.empty()) return;
      continue;
    }
    if (stop_.load(std::memory_order_seq_cst)) return;
    int64_t wake_at = decision.wake_at;
    if (next_deadline_ != 0 && (wake_at == 0 || next_deadline_ < wake_at)) wake_at = next_deadline_;
    Park(wake_at);
  }
}

void Scheduler::DrainIncoming() {
  while (Request* r = incoming_.Pop()) {
    auto& level = pending_.levels[r->level];
    level.queue.push_back(r);
    ++pending_.size;
    if (r->deadline_ns != 0 && (next_deadline_ == 0 || r->deadline_ns < next_deadline_)) next_deadline_ = r->deadline_ns;
  }
}

// Expired requests are rejected (TIMEOUT) or, with timeout_action DELAY, moved behind the on-time
// requests of their level (Triton's delayed queue) where they wait with no deadline.
void Scheduler::ApplyTimeouts(int64_t now) {
  scratch_.clear();
  int64_t next = 0;
  for (auto& level : pending_.levels) {
    auto& q = level.queue;
    auto keep = q.begin();
    for (auto it = q.begin(); it != q.end(); ++it) {
      Request* r = *it;
      if (r->deadline_ns != 0 && r->deadline_ns <= now) {
        r->deadline_ns = 0;
        if (r->delay_on_timeout) {
          r->delayed = true;
          level.delayed.push_back(r);
        } else {
          scratch_.push_back(r);
          ReleaseAdmission(*r);
          --pending_.size;
        }
        continue;
      }
      if (r->deadline_ns != 0 && (next == 0 || r->deadline_ns < next)) next = r->deadline_ns;
      *keep++ = r;
    }
    q.erase(keep, q.end());
  }
  next_deadline_ = next;
  if (!scratch_.empty()) {
    std::vector<Request*> expired;
    expired.swap(scratch_);
    Drop(expired, ErrorCode::kTimeout, "request timed out in the queue before it could be scheduled");
  }
}

void Scheduler::Take(size_t count, std::vector<Request*>& batch) {
  std::vector<Request*> dead;
  for (auto& level : pending_.levels) {
    for (auto* q : {&level.queue, &level.delayed}) {
      while (count > 0 && !q->empty()) {
        Request* r = q->front();
        q->pop_front();
        --count;
        --pending_.size;
        ReleaseAdmission(*r);
        (IsDead(*r) ? dead : batch).push_back(r);
      }
    }
  }
  if (!dead.empty()) Drop(dead, ErrorCode::kCancelled, "request was aborted before it ran");
}

// Drops every queued request that will not run (cancelled, or its thread is going away) now, rather
// than when DecideBatch reaches it.
void Scheduler::PurgeDead() {
  std::vector<Request*> dead;
  for (auto& level : pending_.levels) {
    for (auto* q : {&level.queue, &level.delayed}) {
      auto keep = q->begin();
      for (auto it = q->begin(); it != q->end(); ++it) {
        Request* r = *it;
        if (IsDead(*r)) {
          dead.push_back(r);
          ReleaseAdmission(*r);
          --pending_.size;
        } else {
          *keep++ = r;
        }
      }
      q->erase(keep, q->end());
    }
  }
  if (!dead.empty()) Drop(dead, ErrorCode::kCancelled, "request was aborted before it ran");
}

void Scheduler::Park(int64_t wake_at) {
  const int64_t window_ns = static_cast<int64_t>(config_.spin_microseconds) * 1000;
  const int64_t spin_ns = SpinWorthIt(TypicalExecutionNs(), window_ns) ? window_ns : 0;
  const int64_t spin_end = NowNs() + spin_ns;
  const int64_t spin_until = wake_at != 0 ? std::min(spin_end, wake_at) : spin_end;
  // Spin, but yield between polls: when this thread shares a core with the submitting JS thread, a
  // tight spin would take the very CPU the next request has to come from.
  while (incoming_.Empty() && !poked_.load(std::memory_order_relaxed) && !stop_.load(std::memory_order_relaxed) &&
         NowNs() < spin_until) {
    for (int i = 0; i < 16; ++i) TG_CPU_RELAX();
    std::this_thread::yield();
  }
  if (!incoming_.Empty() || poked_.load(std::memory_order_relaxed) || (wake_at != 0 && NowNs() >= wake_at)) return;

  parked_.store(true, std::memory_order_seq_cst);
  if (!incoming_.Empty() || poked_.load(std::memory_order_seq_cst) || stop_.load(std::memory_order_seq_cst)) {
    if (!parked_.exchange(false, std::memory_order_seq_cst)) wake_.acquire();  // a producer's release is on its way
    return;
  }
  if (wake_at == 0) {
    wake_.acquire();
  } else {
    const auto deadline = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(wake_at));
    if (!wake_.try_acquire_until(deadline)) {
      // Timed out. A producer may have claimed the wake-up meanwhile; its token then makes the
      // next Park return at once, which is harmless.
      parked_.store(false, std::memory_order_seq_cst);
    }
  }
}

void Scheduler::Drop(std::vector<Request*>& requests, ErrorCode code, const char* message) {
  dropper_(requests, Status::Fail(code, message));
}

void Scheduler::ReleaseAdmission(const Request& r) {
  if (level_sizes_ && level_limits_[r.level] > 0) level_sizes_[r.level].fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace tg
