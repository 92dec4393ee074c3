#pragma once
// Reading result files back (merge, compare): the JSON that --json wrote, checked to be one,
// and the options it describes, as far as the summary needs them.
#include <nlohmann/json.hpp>
#include <string>

#include "cli/options.hpp"

namespace lt::results {

// Throws UsageError "WHO: cannot read "PATH": why" or "WHO: "PATH" is not a load-tester
// result file (...)". Which keys it must have is the reader's business.
nlohmann::json read_result(const std::string& path, const std::string& who);
[[noreturn]] void not_a_result(const std::string& who, const std::string& path,
                               std::string_view why);

// object[key] by reference, an empty object when absent (or `object` is none). Not
// json::value(): that copies recursively, and a deeply nested member would overflow the stack.
const nlohmann::json& member(const nlohmann::json& object, const char* key);

// The options a result was run with: enough for the summary (sink, devices, rate, payload and
// each sink's labels); the file's "options" object stays the record of the rest.
Options options_of(const nlohmann::json& result);

}  // namespace lt::results
