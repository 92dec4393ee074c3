#pragma once
// The NATS sink's flags (--subject, --nats-mode, --responders, --ping-interval); its headers come
// from -H (http_flags), its credentials and --subscribers from broker_flags.
#include <CLI/CLI.hpp>

#include "cli/flags.hpp"

namespace lt {

void add_nats_flags(Flags& flags);
// Runs after validate_target() and validate_broker().
void validate_nats(Flags& flags, Options& options);
// The NATS part of describe_options(), each flag with a leading space.
std::string describe_nats(const Options& options);

}  // namespace lt
