#pragma once
// The one request the HTTP sink sends, built once per run from the options: every request of a
// run is the same bytes, so sending one is a copy, never a format.
#include <string>

#include "cli/options.hpp"

namespace lt::http {

// Request line, Host (unless -H gives one), the user's headers, Content-Length when there is a
// body or the method carries one, the blank line and the body.
std::string build_request(const Options& options);

}  // namespace lt::http
