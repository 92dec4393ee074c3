#include "sinks/registry.hpp"

#include <array>

#include "sinks/amqp_sink.hpp"
#include "sinks/http_sink.hpp"
#include "sinks/kafka_sink.hpp"
#include "sinks/mqtt_sink.hpp"
#include "sinks/nats_sink.hpp"
#include "sinks/tcp_sink.hpp"
#include "sinks/udp_sink.hpp"
#include "sinks/wire_header.hpp"

namespace lt {

namespace {
const std::array kSinks = {
    SinkInfo{"tcp", "framed messages on a TCP stream; --echo measures round trips", kWireHeaderSize,
             &make_tcp_sink},
    SinkInfo{"udp", "one datagram per message; --echo measures round trips and loss",
             kWireHeaderSize, &make_udp_sink},
    SinkInfo{"http", "HTTP/1.1 requests on keep-alive connections (TLS with https:// URLs)", 0,
             &make_http_sink},
    SinkInfo{"mqtt", "MQTT 3.1.1/5.0 publishes, QoS 0-2; --subscribers measures end-to-end latency",
             kWireHeaderSize, &make_mqtt_sink},
    SinkInfo{"nats",
             "NATS publishes confirmed by PING/PONG, request/reply, or end to end with "
             "--subscribers (TLS with tls:// URLs)",
             kWireHeaderSize, &make_nats_sink},
    SinkInfo{"amqp",
             "AMQP 0-9-1 (RabbitMQ) publishes confirmed by basic.ack; --consumers measure end to "
             "end (TLS with amqps:// URLs)",
             kWireHeaderSize, &make_amqp_sink},
    SinkInfo{"kafka",
             "Kafka produce requests (librdkafka), latency until the delivery report; --consumers "
             "measure end to end",
             kWireHeaderSize, &make_kafka_sink},
};
}  // namespace

const SinkInfo* find_sink(std::string_view name) {
  for (const auto& s : kSinks)
    if (s.name == name) return &s;
  return nullptr;
}

std::vector<std::string> sink_names() {
  std::vector<std::string> names;
  for (const auto& s : kSinks) names.emplace_back(s.name);
  return names;
}

}  // namespace lt
