#pragma once
// The plan of a run (what --noexec prints): workers, shards, intervals, waiting mode, and an
// estimate of whether this machine can hold the rate.
#include <cstdio>
#include <vector>

#include "cli/options.hpp"
#include "engine/worker.hpp"

namespace lt {

// True for a target on this machine (localhost, 127.0.0.0/8, ::1).
bool loopback_target(const std::string& host);
// The host the load goes to: --hostname, or kafka's first bootstrap broker.
std::string target_host(const Options& options);
// --threads, or by default one per core (one fewer for a loopback target), at most one per device.
unsigned worker_count(const Options& options);
std::vector<WorkerShard> make_shards(const Options& options, unsigned workers);
// Raises RLIMIT_NOFILE as far as allowed; throws UsageError naming --devices if they cannot fit.
void ensure_fd_limit(const Options& options);
void print_plan(std::FILE* out, const Options& options);

}  // namespace lt
