#pragma once
#include <memory>

#include "sinks/sink.hpp"

namespace lt {
// Devices are keyed message streams shared out over a few librdkafka producers (each owns
// threads); latency runs to the delivery report, which the worker's loop polls when the
// producer's queue signals its event fd. With --consumers, consumers read the topics back.
std::unique_ptr<Sink> make_kafka_sink(SinkContext& context);
}  // namespace lt
