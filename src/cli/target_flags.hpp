#pragma once
// Where the load goes, for every sink: --url (which may name the sink, host, port and TLS) and
// the TLS flags shared by the sinks that speak TLS.
#include <CLI/CLI.hpp>

#include "cli/flags.hpp"

namespace lt {

void add_target_flags(Flags& flags, CLI::App& app, Options& options);
// Runs after --sink, --hostname and --port: --url may set all of them.
void validate_target(Flags& flags, Options& options);
// The TLS part of describe_options(), each flag with a leading space.
std::string describe_target(const Options& options);

}  // namespace lt
