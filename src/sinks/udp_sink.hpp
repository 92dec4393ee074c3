#pragma once
#include <memory>

#include "sinks/sink.hpp"

namespace lt {
// One connected UDP socket per device, one datagram per message. With --echo, replies are matched
// by sequence number; a datagram unanswered after --timeout is counted lost.
std::unique_ptr<Sink> make_udp_sink(SinkContext& context);
}  // namespace lt
