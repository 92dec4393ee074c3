#pragma once
// The HTTP sink's request flags (--method, -H, --body, ...), kept apart from the engine's flags
// in options.cpp; --url and the TLS flags are in target_flags.
#include "cli/flags.hpp"

namespace lt {

void add_http_flags(Flags& flags);
// Runs after validate_target(): the sink, host and port are known.
void validate_http(Flags& flags, Options& options);
// The HTTP part of describe_options(), each flag with a leading space.
std::string describe_http(const Options& options);

}  // namespace lt
