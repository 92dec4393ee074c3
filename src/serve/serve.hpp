#pragma once
#include "cli/options.hpp"

namespace lt {
// `load-tester serve`: the built-in counting/echoing server. Prints the bound address on its
// first line, counts until SIGINT/SIGTERM, prints the totals and writes them with --json.
int run_serve(const Options& options);
}  // namespace lt
