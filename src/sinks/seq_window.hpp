#pragma once
// The sequence numbers one device's messages were received with, for telling first copies from
// duplicates: the highest, and a window of the kWindow numbers below it. A first copy that
// arrives late (after a reconnect a broker may still deliver the old connection's messages after
// the new one's) is not taken for a duplicate. One older than the window counts as a duplicate,
// so received is never overstated.
#include <cstdint>

namespace lt {

class SeqWindow {
 public:
  static constexpr std::uint64_t kWindow = 1024;

  // True the first time `seq` is seen.
  bool first_copy(std::uint64_t seq) {
    const auto s = std::int64_t(seq);
    if (s > highest_) {
      const std::uint64_t n = highest_ < 0 ? kWindow : std::uint64_t(s - highest_);
      shift(n);
      if (highest_ >= 0 && n <= kWindow) mark(n - 1);  // the old highest
      highest_ = s;
      return true;
    }
    if (s == highest_ || std::uint64_t(highest_ - s) > kWindow) return false;
    const std::uint64_t k = std::uint64_t(highest_ - s - 1);
    if ((bits_[k / 64] >> (k % 64)) & 1) return false;
    mark(k);
    return true;
  }

 private:
  void mark(std::uint64_t k) { bits_[k / 64] |= std::uint64_t(1) << (k % 64); }
  // Moves every bit n places further from the highest; bits past the window fall off.
  void shift(std::uint64_t n) {
    if (n >= kWindow) {
      for (auto& b : bits_) b = 0;
      return;
    }
    const std::uint64_t words = n / 64, r = n % 64;
    for (std::uint64_t i = kWords; i-- > 0;) {
      std::uint64_t v = i >= words ? bits_[i - words] << r : 0;
      if (r != 0 && i >= words + 1) v |= bits_[i - words - 1] >> (64 - r);
      bits_[i] = v;
    }
  }
  static constexpr std::uint64_t kWords = kWindow / 64;
  std::int64_t highest_ = -1;
  std::uint64_t bits_[kWords] = {};  // bit k: seq highest_ - 1 - k was seen
};

}  // namespace lt
