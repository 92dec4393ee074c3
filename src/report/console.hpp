#pragma once
// What the terminal shows: one progress line per interval, and the final summary.
#include <cstdio>
#include <string>

#include "report/run_result.hpp"

namespace lt {

void print_progress(std::FILE* out, const RunResult& run, const IntervalPoint& p,
                    std::uint64_t devices);
void print_summary(std::FILE* out, const RunResult& run);
// "refused 12, tls 3", or "none".
std::string errors_by_kind(const Counters& c);

}  // namespace lt
