#pragma once
// Messages of one device that were due while its connection could not take them. Bounded: the
// bound is the stated cap on catch-up after a stall, and what does not fit is counted as missed.
// Storage is allocated on first use, since most devices never need it.
#include <cstdint>
#include <memory>

#include "core/time.hpp"

namespace lt {

class Backlog {
 public:
  struct Entry {
    std::uint64_t seq;
    Nanos intended;
  };

  bool empty() const { return count_ == 0; }
  std::uint32_t size() const { return count_; }
  // False when full (the caller counts the message as missed).
  bool push(const Entry& e, std::uint32_t capacity) {
    if (count_ >= capacity) return false;
    if (!ring_) {
      ring_ = std::make_unique<Entry[]>(capacity);
      capacity_ = capacity;
    }
    ring_[(head_ + count_) % capacity_] = e;
    ++count_;
    return true;
  }
  const Entry& front() const { return ring_[head_]; }
  void pop() {
    head_ = (head_ + 1) % capacity_;
    --count_;
  }

 private:
  std::unique_ptr<Entry[]> ring_;
  std::uint32_t capacity_ = 0;
  std::uint32_t head_ = 0;
  std::uint32_t count_ = 0;
};

}  // namespace lt
