#pragma once
// Flags the message-broker sinks share: credentials (--username, --password-file, --token-file,
// or $LT_PASSWORD / $LT_TOKEN), --subscribers (mqtt, nats) and --consumers (amqp), the end-to-end
// receivers inside the tool, and --persistent.
#include <CLI/CLI.hpp>

#include "cli/flags.hpp"

namespace lt {

void add_broker_flags(Flags& flags, CLI::App& app, Options& options);
// Runs after validate_target(): the sink is known. Reads the secret files and variables.
void validate_broker(Flags& flags, Options& options);
// Each flag with a leading space; never a secret, only where it came from.
std::string describe_broker(const Options& options);

}  // namespace lt
