// Dmitry Vyukov's intrusive multi-producer single-consumer queue. Push is wait-free (one atomic
// exchange, no lock, no allocation: the nodes are the requests themselves). Pop belongs to a single
// consumer at a time. Pop may return nullptr while a producer is between its exchange and its link
// store: callers treat nullptr as "maybe empty" and rely on their wake-up protocol.
#pragma once

#include <atomic>

namespace tg {

struct MpscNode {
  std::atomic<MpscNode*> mpsc_next{nullptr};
};

template <typename T>  // T derives from MpscNode
class MpscQueue {
 public:
  MpscQueue() : head_(&stub_), tail_(&stub_) {}
  MpscQueue(const MpscQueue&) = delete;
  MpscQueue& operator=(const MpscQueue&) = delete;

  void Push(T* item) { PushNode(static_cast<MpscNode*>(item)); }

  // Consumer only.
  T* Pop() {
    MpscNode* tail = tail_;
    MpscNode* next = tail->mpsc_next.load(std::memory_order_acquire);
    if (tail == &stub_) {
      if (next == nullptr) return nullptr;
      tail_ = next;
      tail = next;
      next = next->mpsc_next.load(std::memory_order_acquire);
    }
    if (next != nullptr) {
      tail_ = next;
      return static_cast<T*>(tail);
    }
    if (tail != head_.load(std::memory_order_acquire)) return nullptr;  // a push is in flight
    PushNode(&stub_);
    next = tail->mpsc_next.load(std::memory_order_acquire);
    if (next != nullptr) {
      tail_ = next;
      return static_cast<T*>(tail);
    }
    return nullptr;
  }

  // Consumer only: true when nothing is queued and no push has started. The seq_cst load pairs with
  // the producers' seq_cst exchange in the Dekker-style wake-up protocol of the scheduler.
  bool Empty() const { return tail_ == &stub_ && head_.load(std::memory_order_seq_cst) == &stub_; }

 private:
  void PushNode(MpscNode* node) {
    node->mpsc_next.store(nullptr, std::memory_order_relaxed);
    MpscNode* prev = head_.exchange(node, std::memory_order_seq_cst);
    prev->mpsc_next.store(node, std::memory_order_release);
  }

  alignas(64) std::atomic<MpscNode*> head_;
  alignas(64) MpscNode* tail_;
  MpscNode stub_;
};

}  // namespace tg
