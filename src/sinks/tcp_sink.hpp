#pragma once
#include <memory>

#include "sinks/sink.hpp"

namespace lt {
// Framed messages over one TCP connection per device. Messages due in the same dispatch round are
// coalesced into one write per connection; --echo reads the echoed frames back and measures
// round trips from the timestamps they carry.
std::unique_ptr<Sink> make_tcp_sink(SinkContext& context);
}  // namespace lt
