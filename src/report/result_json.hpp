#pragma once
// The result file: options, counters, the interval series and each whole-run histogram in the
// HdrHistogram V2 compressed encoding, so runs can be merged and compared later.
#include <nlohmann/json.hpp>

#include "report/run_result.hpp"

namespace lt {

inline constexpr int kResultFormat = 1;

nlohmann::json result_to_json(const RunResult& run);
nlohmann::json interval_to_json(const IntervalPoint& point);
nlohmann::json counters_to_json(const Counters& c);
nlohmann::json histogram_to_json(const HdrHistogram& h);

}  // namespace lt
