#pragma once
#include <memory>

#include "sinks/sink.hpp"

namespace lt {
// AMQP 0-9-1 (RabbitMQ): one connection and one channel per device publishing to --exchange
// with its routing key at the device's rate. With publisher confirms (the default) a message
// completes at its basic.ack, nacks and --mandatory returns are counted; --confirm off completes
// at the write. --consumers read the timestamp header in each body for end-to-end latency.
std::unique_ptr<Sink> make_amqp_sink(SinkContext& context);
}  // namespace lt
