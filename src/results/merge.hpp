#pragma once
// `load-tester merge r0.json r1.json ... [-o all.json]`: the result files of the ranks of one
// distributed run added into the result of the whole test, exactly: counters summed, histograms
// added bucket by bucket (whole run and per interval), intervals aligned by index. Printed as a
// single run's summary, written in the same format. Files from different tests, missing or
// repeated ranks and incompatible histogram settings are refused.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lt {

// `names` label the parts in errors. Order does not matter. Throws UsageError.
nlohmann::json merge_results(const std::vector<nlohmann::json>& parts,
                             const std::vector<std::string>& names);

// The command: args are the words after "merge". Returns the exit code.
int run_merge(const std::vector<std::string>& args, std::FILE* out);

}  // namespace lt
