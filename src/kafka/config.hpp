#pragma once
// librdkafka configurations built from the options: the tool's settings first, then -X in the
// order given. Used by the flag validation (so a refused -X is a usage error before anything
// starts) and by the sink.
#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli/options.hpp"

namespace lt::kafka {

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using HandlePtr = std::unique_ptr<rd_kafka_t, HandleDeleter>;

// Both throw UsageError naming the flag (-X, --brokers, --acks, ...) that librdkafka refused.
ConfPtr producer_conf(const Options& options);
// Consumers take only the connection settings of -X (security, SASL, SSL, socket, client).
ConfPtr consumer_conf(const Options& options, const std::string& group);

// Properties the tool sets from its own flags, and -X may not: "" when `name` is free.
std::string owned_by_flag(const std::string& name);
// The hosts of a --brokers list ("k1:9092,[::1]:9093"), in order; empty when an entry is not
// host:port with a port from 1 to 65535.
std::vector<std::string> broker_hosts(std::string_view list);

// Properties that hold a secret: never on the command line (-X), only in --kafka-config's file.
bool secret_property(std::string_view name);

}  // namespace lt::kafka
