#pragma once
// Request headers for the HTTP and NATS sinks: -H on the command line and --header-file for the
// ones that carry credentials, which then never reach argv, `ps`, reports or result files.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/flags.hpp"

namespace lt {

// Why a "Name: value" header line is unusable (empty when fine): a name that is not a token, a
// control byte in the value.
std::string check_header_line(const std::string& header);

// A header whose value is a credential by its name (Authorization, Cookie, X-Api-Key, ...).
bool secret_header(std::string_view name);

struct HeaderSet {
  std::vector<std::string> wire;   // what is sent
  std::vector<std::string> shown;  // what reports show: file and credential values redacted
  std::string file;                // --header-file, when given
};

// The -H values, then --header-file's lines (blank lines and lines starting with '#' skipped),
// each checked by check_header_line and then `check` (empty = fine). Errors name the flag and,
// for the file, the line number, never a value read from the file.
HeaderSet read_headers(Flags& flags,
                       const std::function<std::string(const std::string&)>& check = {});

void add_header_flags(Flags& flags);

}  // namespace lt
