#pragma once
// The HTTP sink's request flags (--method, -H, --body, ...), kept apart from the engine's flags
// in options.cpp; --url and the TLS flags are in target_flags.
#include "cli/flags.hpp"

namespace lt {

void add_http_flags(Flags& flags);
// Why a "Name: value" header line is unusable (empty when fine): a name that is not a token, a
// control byte in the value. Shared with the NATS sink's headers.
std::string check_header_line(const std::string& header);
// Runs after validate_target(): the sink, host and port are known.
void validate_http(Flags& flags, Options& options);
// The HTTP part of describe_options(), each flag with a leading space.
std::string describe_http(const Options& options);

}  // namespace lt
