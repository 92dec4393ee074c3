#pragma once
// The AMQP sink's flags (--exchange, --routing-key, --queue, --declare and its choices,
// --mandatory, --confirm, --heartbeat, --vhost); --persistent, the credentials and --consumers
// come from broker_flags.
#include <CLI/CLI.hpp>

#include "cli/flags.hpp"

namespace lt {

void add_amqp_flags(Flags& flags, CLI::App& app, Options& options);
// Runs after validate_target() and validate_broker().
void validate_amqp(Flags& flags, Options& options);
// The AMQP part of describe_options(), each flag with a leading space.
std::string describe_amqp(const Options& options);

}  // namespace lt
