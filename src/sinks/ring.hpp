#pragma once
// A FIFO of a connection's outstanding messages (HTTP requests, MQTT publishes awaiting their
// acknowledgement): replies come back in order, so entries leave from the front, and index
// lookups from the front are cheap. It grows by doubling as needed, up to what the caller
// allows, so 10,000 idle connections hold a few entries each, not their worst case.
#include <cstdint>
#include <vector>

namespace lt {

template <typename T>
class Ring {
 public:
  std::uint32_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](std::uint32_t i) { return slots_[(head_ + i) & mask()]; }
  const T& operator[](std::uint32_t i) const { return slots_[(head_ + i) & mask()]; }
  T& front() { return (*this)[0]; }
  void push(const T& v) {
    if (size_ == slots_.size()) grow();
    slots_[(head_ + size_++) & mask()] = v;
  }
  void pop() {
    head_ = (head_ + 1) & mask();
    --size_;
  }
  void clear() { head_ = size_ = 0; }

 private:
  std::uint32_t mask() const { return std::uint32_t(slots_.size()) - 1; }
  void grow() {
    std::vector<T> bigger(slots_.empty() ? 4 : slots_.size() * 2);
    for (std::uint32_t i = 0; i < size_; ++i) bigger[i] = (*this)[i];
    slots_.swap(bigger);
    head_ = 0;
  }
  std::vector<T> slots_;  // a power of two in size
  std::uint32_t head_ = 0, size_ = 0;
};

}  // namespace lt
