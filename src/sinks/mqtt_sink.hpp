#pragma once
#include <memory>

#include "sinks/sink.hpp"

namespace lt {
// MQTT 3.1.1 or 5.0: one connection per device publishing to its topic at the device's rate.
// QoS 0 completes when the kernel has the message, QoS 1 at PUBACK, QoS 2 at PUBCOMP, all from
// the intended send time. --subscribers opens receivers on the same worker that read the
// timestamp header in each payload: end-to-end latency, loss and duplicates.
std::unique_ptr<Sink> make_mqtt_sink(SinkContext& context);
}  // namespace lt
