#pragma once
// End-to-end receipt for the subscribers inside the tool (mqtt, nats). Each worker's subscribers
// take its own devices' topics or subjects, so a payload is checked against the worker's devices
// by its wire header; first copies, duplicates and publish-to-receipt latency are counted here.
#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "cli/options.hpp"
#include "metrics/recorder.hpp"
#include "sinks/seq_window.hpp"
#include "sinks/sink.hpp"
#include "sinks/wire_header.hpp"

namespace lt {

// Helper connections (subscribers, responders) of one worker: `n` shared out over the workers,
// rounded up (each worker's helpers cover its own devices, so each needs one), and never more
// than the worker's devices, each of which takes a share of them.
inline std::size_t share_of_worker(std::uint64_t n, std::uint32_t workers,
                                   std::size_t local_devices) {
  if (n == 0 || local_devices == 0) return 0;
  const std::uint64_t w = std::max<std::uint32_t>(1, workers);
  return std::size_t(std::min<std::uint64_t>((n + w - 1) / w, local_devices));
}

class E2eTracker {
 public:
  // skip_foreign: readers of whole topics (kafka) see every worker's devices; another worker's
  // message is skipped rather than counted malformed.
  E2eTracker(const std::vector<std::uint64_t>& device_ids, Recorder& recorder,
             bool skip_foreign = false)
      : recorder_(recorder),
        skip_foreign_(skip_foreign),
        first_(device_ids.empty() ? 0 : device_ids[0]),
        stride_(device_ids.size() > 1 ? device_ids[1] - device_ids[0] : 1),
        seen_(device_ids.size()) {}

  // Subscriber connections on this worker.
  static std::size_t subscribers_on(const SinkContext& c) {
    return share_of_worker(c.options.subscribers, c.workers, c.device_ids.size());
  }

  void received(std::string_view payload, Nanos now) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(payload.data());
    auto h = payload.size() >= kWireHeaderSize ? read_wire_header(bytes) : std::nullopt;
    if (!h) {
      recorder_.count(Counter::ErrMalformed);
      return;
    }
    // Not one of this worker's devices' messages: another run's, or another tool's.
    if (h->device < first_ || (h->device - first_) % stride_ != 0 ||
        (h->device - first_) / stride_ >= seen_.size()) {
      if (!skip_foreign_) recorder_.count(Counter::ErrMalformed);
      return;
    }
    if (!seen_[(h->device - first_) / stride_].first_copy(h->seq)) {
      recorder_.count(Counter::E2eDuplicates);
      return;
    }
    ++received_;
    recorder_.count(Counter::E2eReceived);
    recorder_.e2e.record(now - h->intended);
  }

  std::uint64_t received_total() const { return received_; }

 private:
  Recorder& recorder_;
  bool skip_foreign_;
  std::uint64_t first_, stride_;
  std::vector<SeqWindow> seen_;  // per local device
  std::uint64_t received_ = 0;
};

}  // namespace lt
