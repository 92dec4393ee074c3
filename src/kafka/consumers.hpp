#pragma once
// The --consumers of the kafka sink: each worker's consumers read back every topic its devices
// write to and count its devices' messages end to end (first copies, duplicates, latency from
// the intended send time). Partitions are assigned directly, each starting at the end offset
// read before the run, rather than through a group: a group's join and rebalances would lose or
// repeat messages at the start and cost seconds, which is the producer's measurement, not
// the consumer's.
#include <memory>
#include <string>
#include <vector>

#include "sinks/sink.hpp"

namespace lt::kafka {

class Consumers {
 public:
  // Blocks (at most --connect-timeout) for the topics' partitions and end offsets: run during
  // set-up, before any worker starts. Throws std::runtime_error when the cluster cannot tell.
  Consumers(SinkContext& context, const std::vector<std::string>& topics);
  ~Consumers();
  // This worker's devices have had more messages delivered than its consumers received.
  bool behind(std::uint64_t delivered) const;
  void stop(Nanos now);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace lt::kafka
