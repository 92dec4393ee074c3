// Fuzzes what reads result files and their parts back: the HdrHistogram V2 decoder, merge's
// checks over whatever JSON a file holds, and compare's --fail-if conditions. None may crash or
// throw anything but a UsageError; a histogram that decodes must encode and decode to the same
// buckets.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "cli/options.hpp"
#include "harness.hpp"
#include "metrics/hdr_histogram.hpp"
#include "results/compare.hpp"
#include "results/merge.hpp"

namespace {

void check_histogram(std::string_view text) {
  const auto h = lt::HdrHistogram::decode_base64(text);
  if (!h) return;
  const auto again = lt::HdrHistogram::decode_base64(h->encode_base64());
  LT_FUZZ_CHECK(again && again->same_layout(*h) && again->total_count() == h->total_count());
  for (std::size_t i = 0; i < h->counts_length(); ++i)
    LT_FUZZ_CHECK(again->count_at_index(i) == h->count_at_index(i));
  LT_FUZZ_CHECK(h->min() <= h->max());
}

void check_merge(std::string_view text) {
  auto part = nlohmann::json::parse(text, nullptr, false);
  if (part.is_discarded()) return;
  try {
    const auto merged = lt::merge_results({part}, {"fuzz"});
    LT_FUZZ_CHECK(merged.contains("counters") && merged["run"]["size"] == 1);
  } catch (const lt::UsageError& e) {
    LT_FUZZ_CHECK(e.message.rfind("merge: ", 0) == 0);
  }
}

void check_condition(std::string_view text) {
  try {
    const lt::FailIf c = lt::parse_fail_if(text);
    (void)lt::evaluate(c, 1.0, 2.0);
  } catch (const lt::UsageError& e) {
    LT_FUZZ_CHECK(e.message.rfind("--fail-if", 0) == 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_histogram(text);
  check_merge(text);
  check_condition(text);
  return 0;
}
