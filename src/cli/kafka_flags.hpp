#pragma once
// The Kafka sink's flags: --brokers, --topic (shared with mqtt), --key, --acks, --producers and
// -X name=value for librdkafka; --consumers and the credentials come from broker_flags.
#include <CLI/CLI.hpp>

#include "cli/flags.hpp"

namespace lt {

void add_kafka_flags(Flags& flags);
// Runs after validate_target() and validate_broker(); builds the librdkafka configuration once,
// so a property librdkafka refuses is a usage error.
void validate_kafka(Flags& flags, Options& options);
// The Kafka part of describe_options(), each flag with a leading space.
std::string describe_kafka(const Options& options);

}  // namespace lt
