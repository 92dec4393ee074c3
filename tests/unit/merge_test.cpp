// merge_results: counters and histograms added exactly, intervals aligned, the same result in
// any order, and the files that do not belong together refused.
#include "results/merge.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "metrics/hdr_histogram.hpp"
#include "report/result_json.hpp"

namespace lt {
namespace {

using nlohmann::json;

// One rank's result with `n` latencies of `value` ns, in one interval.
json part(std::uint32_t rank, std::uint32_t size, std::uint64_t n, std::int64_t value,
          const HdrHistogram& layout = HdrHistogram()) {
  HdrHistogram h = layout;
  h.record_n(value, n);
  const std::string hdr = h.encode_base64();
  json histograms = json::object();
  for (const char* name : {"latency", "service", "lateness", "connect", "tls_handshake", "e2e"})
    histograms[name] = {
        {"hdr", std::string(name) == "latency" ? hdr : HdrHistogram().encode_base64()}};
  Counters c;
  c[Counter::Sent] = n;
  c[Counter::Completed] = n;
  return {{"tool", "load-tester"},
          {"format", kResultFormat},
          {"options", {{"sink", "tcp"}, {"devices", 100}, {"rate", 1000.0}, {"threads", rank + 1}}},
          {"run",
           {{"rank", rank},
            {"size", size},
            {"target", "127.0.0.1:1"},
            {"elapsed_ns", 1'000'000'000 + rank},
            {"start_unix_ns", 5'000 + rank},
            {"connect", {{"established", 25}, {"span_ns", 10}}},
            {"workers", 1}}},
          {"counters", counters_to_json(c)},
          {"error_codes", {{"client _TRANSPORT", rank}}},
          {"histograms", histograms},
          {"intervals", json::array({{{"index", 0},
                                      {"length_ns", 1'000'000'000},
                                      {"connected", 25},
                                      {"counters", counters_to_json(c)},
                                      {"latency_hdr", hdr}}})}};
}

std::string error_of(const std::vector<json>& parts) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < parts.size(); ++i) names.push_back("r" + std::to_string(i));
  try {
    merge_results(parts, names);
  } catch (const UsageError& e) {
    return e.message;
  }
  return "";
}

TEST(Merge, AddsExactlyInAnyOrder) {
  const json a = part(0, 3, 10, 1000), b = part(1, 3, 20, 5000), c = part(2, 3, 30, 9000);
  const json m = merge_results({a, b, c}, {"a", "b", "c"});
  json again = merge_results({c, a, b}, {"c", "a", "b"});
  // The same result; only the names given to each file follow the files.
  again["run"]["merged_from"] = m["run"]["merged_from"];
  EXPECT_EQ(again, m);
  EXPECT_EQ(m["counters"]["sent"], 60);
  auto h = HdrHistogram::decode_base64(m["histograms"]["latency"]["hdr"].get<std::string>());
  ASSERT_TRUE(h);
  EXPECT_EQ(h->total_count(), 60u);
  EXPECT_EQ(h->value_at_percentile(10), h->value_at_percentile(16));  // the 10 at 1000 ns
  EXPECT_GE(h->max(), 9000);
  EXPECT_EQ(m["error_codes"]["client _TRANSPORT"], 3);
  EXPECT_EQ(m["intervals"][0]["counters"]["sent"], 60);
  EXPECT_EQ(m["intervals"][0]["connected"], 75);
  EXPECT_EQ(m["intervals"][0]["latency_p99_ns"], h->value_at_percentile(99));
  EXPECT_EQ(m["run"]["rank"], nullptr);
  EXPECT_EQ(m["run"]["size"], 3);
  EXPECT_EQ(m["run"]["elapsed_ns"], 1'000'000'002);
  EXPECT_EQ(m["run"]["start_unix_ns"], 5'000);
  EXPECT_EQ(m["options"]["threads"], 3);  // the machines' workers together
  EXPECT_EQ(m["run"]["merged_from"][0]["file"], "a");
}

TEST(Merge, RefusesWhatDoesNotBelongTogether) {
  json other = part(1, 2, 1, 1);
  other["options"]["devices"] = 200;
  EXPECT_EQ(error_of({part(0, 2, 1, 1), other}),
            "merge: r1 is from a different test than r0 (devices: 100 vs 200)");
  EXPECT_EQ(error_of({part(0, 2, 1, 1), part(0, 2, 1, 1)}), "merge: rank 0 twice: r0 and r1");
  EXPECT_EQ(error_of({part(0, 3, 1, 1), part(2, 3, 1, 1)}),
            "merge: rank 1 of 3 is missing (got 2 file(s))");
  EXPECT_EQ(error_of({part(0, 2, 1, 1), part(1, 3, 1, 1)}), "merge: r1 is rank 1 of 3, r0 of 2");
  EXPECT_EQ(error_of({part(0, 2, 1, 1), part(1, 2, 1, 1, HdrHistogram(1, 1'000'000, 2))}),
            "merge: r1: histograms.latency.hdr has other histogram settings (lowest 1, highest "
            "1000000, 2 significant figures) than the others (lowest 1, highest 3600000000000, 3)");
  json broken = part(1, 2, 1, 1);
  broken["histograms"]["latency"]["hdr"] = "not base64!";
  EXPECT_EQ(error_of({part(0, 2, 1, 1), broken}),
            "merge: r1: histograms.latency.hdr does not decode");
  json merged = merge_results({part(0, 1, 1, 1)}, {"x"});
  EXPECT_EQ(error_of({merged}), "merge: r0 is already a merged result");
  json missing = part(0, 1, 1, 1);
  missing.erase("intervals");
  EXPECT_EQ(error_of({missing}),
            "merge: \"r0\" is not a load-tester result file (no \"intervals\")");
}

}  // namespace
}  // namespace lt
