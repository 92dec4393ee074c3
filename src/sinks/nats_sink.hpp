#pragma once
#include <memory>

#include "sinks/sink.hpp"

namespace lt {
// NATS: one connection per device publishing to its subject at the device's rate.
// pub: a message completes when a PONG confirms the server read it (its latency is measured to
// the write, as for every fire-and-forget sink); request: at the reply, through a per-device
// reply inbox, with --responders answering inside the tool or an existing service; e2e:
// --subscribers read the timestamp header in each payload.
std::unique_ptr<Sink> make_nats_sink(SinkContext& context);
}  // namespace lt
