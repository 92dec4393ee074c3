#pragma once
#include "cli/options.hpp"

namespace lt {

// Runs a load test as the options describe (or, with --noexec, prints its plan). Returns the
// process exit code. Throws UsageError for problems found before anything is sent.
int run_load(const Options& options);

}  // namespace lt
