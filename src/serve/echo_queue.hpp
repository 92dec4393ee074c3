#pragma once
// The bytes one TCP connection owes its peer, in stream order: a prefix that may be sent now,
// then bytes held back until their due time (--delay). Offsets count from the stream's start, so
// a cut can be made at each frame end while reading without copying anything twice.
#include <cstdint>
#include <vector>

#include "core/time.hpp"

namespace lt {

class EchoQueue {
 public:
  void append(const unsigned char* p, std::size_t n) {
    if (head_ > 0 && head_ >= buf_.size() / 2) {  // compact rarely: amortised O(1) per byte
      buf_.erase(buf_.begin(), buf_.begin() + std::ptrdiff_t(head_));
      head_ = 0;
    }
    buf_.insert(buf_.end(), p, p + n);
    appended_ += n;
  }
  // Everything appended so far may be sent now.
  void release_all() {
    cuts_.clear();
    cut_head_ = 0;
    released_ = appended_;
  }
  // Bytes up to stream offset `end` become sendable at `due`; dues never go backwards, so the
  // stream keeps its order whatever the delays drawn.
  void hold(std::uint64_t end, Nanos due) {
    if (cut_head_ < cuts_.size()) due = std::max(due, cuts_.back().due);
    if (cut_head_ < cuts_.size() && cuts_.back().due == due)
      cuts_.back().end = end;  // same due: one cut covers both
    else
      cuts_.push_back({end, due});
  }
  // Makes the cuts due by `now` sendable.
  void release(Nanos now) {
    while (cut_head_ < cuts_.size() && cuts_[cut_head_].due <= now)
      released_ = cuts_[cut_head_++].end;
    if (cut_head_ == cuts_.size()) {
      cuts_.clear();
      cut_head_ = 0;
    }
  }
  Nanos next_due() const { return cut_head_ < cuts_.size() ? cuts_[cut_head_].due : INT64_MAX; }

  const unsigned char* sendable() const { return buf_.data() + head_; }
  std::size_t sendable_size() const { return std::size_t(released_ - sent_); }
  void consume(std::size_t n) {
    sent_ += n;
    head_ += n;
    if (head_ == buf_.size()) {
      buf_.clear();
      head_ = 0;
    }
  }
  std::size_t size() const { return std::size_t(appended_ - sent_); }
  std::uint64_t appended() const { return appended_; }

 private:
  struct Cut {
    std::uint64_t end;
    Nanos due;
  };
  std::vector<unsigned char> buf_;
  std::size_t head_ = 0;  // buf_[head_] is stream offset sent_
  std::uint64_t sent_ = 0, released_ = 0, appended_ = 0;
  std::vector<Cut> cuts_;
  std::size_t cut_head_ = 0;
};

}  // namespace lt
