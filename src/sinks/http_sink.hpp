#pragma once
#include <memory>

#include "sinks/sink.hpp"

namespace lt {
// HTTP/1.1 over one keep-alive connection per device (TLS when asked), up to --pipeline requests
// in flight on each. A request completes when its whole response has been read; latency runs
// from its intended send time, service time from its actual send.
std::unique_ptr<Sink> make_http_sink(SinkContext& context);
}  // namespace lt
