#pragma once
// Rank and size of a distributed run, from --rank/--size or the launcher's environment (MPI,
// Slurm, a Kubernetes Indexed Job), and --start-at. No MPI library is linked: the launchers only
// start the processes, each of which takes its striped share of the same test.
#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>

#include "cli/flags.hpp"

namespace lt {

// getenv, or a table in tests.
using EnvLookup = std::function<const char*(const char*)>;

void add_placement_flags(Flags& flags);
// Runs after --devices is known. Throws UsageError naming the flag or variable at fault.
void validate_placement(Flags& flags, Options& options, const EnvLookup& env);
std::string describe_placement(const Options& options);

// RFC 3339 ("2026-11-29T06:00:00Z", "2026-11-29T07:00:00.5+01:00") or Unix seconds
// ("1795928400", "1795928400.25"), as Unix nanoseconds; nullopt when it is neither.
std::optional<Nanos> parse_start_time(std::string_view text);

// "{rank}" in a path replaced by the rank, so one command line names a file per rank.
std::string expand_rank(const std::string& path, std::uint32_t rank);

}  // namespace lt
