#pragma once
// The MQTT sink's flags (--qos, --topic, --client-id, --subscribers, ...).
#include <CLI/CLI.hpp>

#include "cli/flags.hpp"

namespace lt {

void add_mqtt_flags(Flags& flags, CLI::App& app, Options& options);
// Runs after validate_target(): the sink is known.
void validate_mqtt(Flags& flags, Options& options);
// The MQTT part of describe_options() (never the password), each flag with a leading space.
std::string describe_mqtt(const Options& options);

}  // namespace lt
