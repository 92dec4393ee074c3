#pragma once
// The HTTP sink's flags (--url, --method, -H, --body, ...) and the TLS flags, kept apart from the
// engine's flags in options.cpp.
#include <CLI/CLI.hpp>

#include "cli/flags.hpp"

namespace lt {

void add_http_flags(Flags& flags, CLI::App& app, Options& options);
// Runs after --sink, --hostname and --port are known; --url may set all three.
void validate_http(Flags& flags, Options& options);
// The HTTP and TLS part of describe_options(), each flag with a leading space.
std::string describe_http(const Options& options);

}  // namespace lt
