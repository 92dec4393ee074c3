// Fuzzes `load-tester compare` on any bytes as a result file. Its reader must return a summary or
// throw one UsageError, one line naming the file; never crash, hang or throw anything else. A
// summary must hold the numbers the JSON holds; the file compared with itself must show no change
// and no condition of a change may hold; compared with a real result both ways, each condition's
// HOLDS or ok must be what evaluate() says. The input is written to a file, as compare reads one.
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/options.hpp"
#include "harness.hpp"
#include "results/compare.hpp"

namespace {

using nlohmann::json;

// A result file as the tool writes it, cut down to what compare reads, with end-to-end latency.
constexpr std::string_view kReference =
    R"({"tool":"load-tester","format":1,"version":"0.1.0",)"
    R"("options":{"sink":"nats","devices":4,"rate":1000.0,"duration_ns":10000000000},)"
    R"("run":{"start_unix_ns":1795930229422239778,"interrupted":false},)"
    R"("rate":{"achieved":999.5,"closed_loop":false,"target":1000.0},)"
    R"("counters":{"sent":10000,"completed":9990,"missed":3,"lost":7,"err_send":2,)"
    R"("err_timeout":5,"reconnects":1},)"
    R"("histograms":{"latency":{"count":9990,"max":4960255,"mean":127825.5,"percentiles":)"
    R"({"p50":98847,"p90":160255,"p95":200000,"p99":960255,"p99.9":2960255,"p99.99":4960255}},)"
    R"("e2e":{"count":9990,"max":5960255,"mean":227825.5,"percentiles":)"
    R"({"p50":198847,"p90":260255,"p95":300000,"p99":1960255,"p99.9":3960255,"p99.99":5960255}}}})";

std::string g_dir, g_input, g_reference;
lt::ResultSummary g_reference_summary;

// ---- edits of the reference: the numbers and types a mutated text rarely reaches ----

// Where an edit lands: every place compare reads, and the objects that hold them.
// clang-format off
const char* const kFields[] = {
    "/rate/achieved", "/counters/sent", "/counters/completed", "/counters/missed",
    "/counters/lost", "/counters/err_send", "/counters/err_new", "/histograms/latency/max",
    "/histograms/latency/mean", "/histograms/latency/percentiles/p50",
    "/histograms/latency/percentiles/p90", "/histograms/latency/percentiles/p99",
    "/histograms/latency/percentiles/p99.9", "/histograms/latency/percentiles/p99.99",
    "/histograms/e2e/count", "/histograms/e2e/percentiles/p50", "/histograms/e2e/percentiles/p99",
    "/options/sink", "/options/devices", "/options/rate", "/options/duration_ns",
    "/run/start_unix_ns", "/run/interrupted", "/format", "/tool", "/options", "/run", "/rate",
    "/counters", "/histograms", "/histograms/latency", "/histograms/latency/percentiles",
    "/histograms/e2e"};
// clang-format on
constexpr std::size_t kFieldCount = sizeof kFields / sizeof kFields[0];

// Stands for deeply nested arrays, spliced into the text after dump() (which recurses).
constexpr std::string_view kDeepMarker = "\"@deep@\"";

// The value an edit sets; nullopt removes the member.
std::optional<json> edit_value(std::uint8_t which, std::uint8_t extra) {
  // clang-format off
  switch (which % 32) {
    case 0: return std::nullopt;
    case 1: return json();
    case 2: return true;
    case 3: return false;
    case 4: return "";
    case 5: return "tcp";
    case 6: return "two\nlines";
    case 7: return json::array();
    case 8: return json::object();
    case 9: return std::string(kDeepMarker.substr(1, kDeepMarker.size() - 2));
    case 10: return 0;
    case 11: return -0.0;
    case 12: return 1;
    case 13: return -1;
    case 14: return 0.5;
    case 15: return 5e-324;
    case 16: return std::int64_t{1} << 53;
    case 17: return (std::int64_t{1} << 53) + 1;
    case 18: return INT64_MAX;
    case 19: return INT64_MIN;
    case 20: return UINT64_MAX;
    case 21: return 0x1p63;
    case 22: return -0x1p63;
    case 23: return 9.3e18;
    case 24: return -9.3e18;
    case 25: return 1.7e308;
    case 26: return -1.7e308;
    case 27: return 1e19;
    case 28: return std::uint64_t{1} << 63;
    case 29: return std::int64_t(extra) << (extra % 56);
    case 30: return -(std::int64_t(extra) << (extra % 56));
    default: return double(extra) * std::pow(10.0, int(extra % 64) - 20);
  }
  // clang-format on
}

// The reference with the edits the bytes after the mode byte spell, three bytes each: where,
// what, and a byte for the value (a number, or the depth of nested arrays in hundreds).
std::string edited_reference(const std::uint8_t* data, std::size_t size) {
  json doc = json::parse(kReference);
  std::size_t depth = 0;
  for (std::size_t i = 0; i + 2 < size; i += 3) {
    const std::string_view field = kFields[data[i] % kFieldCount];
    const json::json_pointer where{std::string(field)};
    const auto value = edit_value(data[i + 1], data[i + 2]);
    if (value && value->is_string() && *value == "@deep@") depth = 100 * (1 + data[i + 2]);
    try {
      if (value) {
        doc[where] = *value;
      } else if (doc.contains(where)) {
        doc[where.parent_pointer()].erase(where.back());
      }
    } catch (const json::exception&) {
      // A path through what an earlier edit made a number: nothing to edit.
    }
  }
  std::string text = doc.dump();
  for (auto at = text.find(kDeepMarker); at != std::string::npos; at = text.find(kDeepMarker))
    text.replace(at, kDeepMarker.size(), std::string(depth, '[') + std::string(depth, ']'));
  return text;
}

void write_file(const std::string& path, std::string_view bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  LT_FUZZ_CHECK(f != nullptr);
  LT_FUZZ_CHECK(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
  LT_FUZZ_CHECK(std::fclose(f) == 0);
}

void remove_files() {
  std::remove(g_input.c_str());
  std::remove(g_reference.c_str());
  ::rmdir(g_dir.c_str());
}

[[noreturn]] void unexpected(const char* what) {
  std::fprintf(stderr, "compare_fuzz: exception other than UsageError: %s\n", what);
  std::abort();
}

// compare's contract for a file it cannot use.
void check_file_error(const std::string& message) {
  LT_FUZZ_CHECK(!message.empty());
  LT_FUZZ_CHECK(message.find_first_of("\r\n") == std::string::npos);
  LT_FUZZ_CHECK(message.rfind("compare: ", 0) == 0);
  LT_FUZZ_CHECK(message.find('"' + g_input + '"') != std::string::npos);
}

// The number at a "/a/b/c" path through objects, walked by hand rather than by json_pointer.
std::optional<double> number_at(const json& j, std::string_view pointer) {
  const json* at = &j;
  while (!pointer.empty()) {
    pointer.remove_prefix(1);
    const std::string key(pointer.substr(0, pointer.find('/')));
    pointer.remove_prefix(std::min(pointer.size(), key.size()));
    if (!at->is_object() || !at->contains(key)) return std::nullopt;
    at = &(*at)[key];
  }
  if (!at->is_number()) return std::nullopt;
  return at->get<double>();
}

// Where each metric lives in a result file (compare.cpp's table, written out again).
const char* const kPointers[lt::kCompareMetricCount] = {
    "/rate/achieved",
    "/counters/sent",
    "/counters/completed",
    "/counters/missed",
    "/counters/lost",
    "",
    "/histograms/latency/percentiles/p50",
    "/histograms/latency/percentiles/p90",
    "/histograms/latency/percentiles/p99",
    "/histograms/latency/percentiles/p99.9",
    "/histograms/latency/percentiles/p99.99",
    "/histograms/latency/max",
    "/histograms/latency/mean",
    "/histograms/e2e/percentiles/p50",
    "/histograms/e2e/percentiles/p99",
};

bool is_e2e(lt::CompareMetric m) {
  return m == lt::CompareMetric::E2eP50 || m == lt::CompareMetric::E2eP99;
}

bool same(double a, double b) {
  return a == b && std::signbit(a) == std::signbit(b);
}

// A summary holds what the JSON holds.
void check_summary(const lt::ResultSummary& s, std::string_view text) {
  const json j = json::parse(text, nullptr, false);
  LT_FUZZ_CHECK(!j.is_discarded() && j.is_object() && j["tool"] == "load-tester");
  LT_FUZZ_CHECK(s.path == g_input);
  const auto e2e_count = number_at(j, "/histograms/e2e/count");
  LT_FUZZ_CHECK(s.has_e2e == (e2e_count && *e2e_count > 0));
  for (std::size_t i = 0; i < lt::kCompareMetricCount; ++i) {
    const auto m = lt::CompareMetric(i);
    const double v = s.value(m);
    LT_FUZZ_CHECK(std::isfinite(v));
    if (m == lt::CompareMetric::Errors) {
      double sum = 0;
      for (const auto& [name, value] : j["counters"].items())
        if (name.rfind("err_", 0) == 0 && value.is_number()) sum += value.get<double>();
      LT_FUZZ_CHECK(same(v, sum));
    } else if (is_e2e(m) && !s.has_e2e) {
      LT_FUZZ_CHECK(v == 0);
    } else {
      const auto n = number_at(j, kPointers[i]);
      LT_FUZZ_CHECK(n && same(v, *n));
    }
  }
  // An absent "options" or "run" reads as empty; either of them not an object, as both empty.
  static const json empty = json::object();
  const json& options = j.contains("options") ? j["options"] : empty;
  const json& run = j.contains("run") ? j["run"] : empty;
  if (options.is_object() && run.is_object()) {
    if (options.contains("sink")) LT_FUZZ_CHECK(s.sink == options["sink"].get<std::string>());
    if (options.contains("devices") && options["devices"].is_number_integer())
      LT_FUZZ_CHECK(s.devices == options["devices"].get<std::int64_t>());
    if (options.contains("rate") && options["rate"].is_number())
      LT_FUZZ_CHECK(same(s.target_rate, options["rate"].get<double>()));
    else
      LT_FUZZ_CHECK(s.target_rate == 0);
    if (options.contains("duration_ns") && options["duration_ns"].is_number_integer())
      LT_FUZZ_CHECK(s.duration_ns == options["duration_ns"].get<std::int64_t>());
    if (run.contains("start_unix_ns") && run["start_unix_ns"].is_number_integer())
      LT_FUZZ_CHECK(s.start_unix_ns == run["start_unix_ns"].get<std::int64_t>());
    if (run.contains("interrupted")) LT_FUZZ_CHECK(s.interrupted == run["interrupted"].get<bool>());
  } else {
    LT_FUZZ_CHECK(s.sink.empty() && s.devices == 0 && s.target_rate == 0 && s.duration_ns == 0 &&
                  s.start_unix_ns == 0 && !s.interrupted);
  }
}

// The reader refused the file: the reason it gives must be true of the JSON.
void check_refusal(const std::string& message, std::string_view text) {
  const json j = json::parse(text, nullptr, false);
  LT_FUZZ_CHECK((message.find("(not JSON)") != std::string::npos) == j.is_discarded());
  const auto at = message.find("no number at ");
  if (at != std::string::npos) {
    const std::string pointer = message.substr(at + 13, message.size() - at - 14);
    LT_FUZZ_CHECK(!number_at(j, pointer));
  }
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> words_of(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

struct Compared {
  int status = 0;
  std::string out;
};

Compared compare(const std::vector<std::string>& args) {
  char* buf = nullptr;
  std::size_t size = 0;
  std::FILE* out = open_memstream(&buf, &size);
  LT_FUZZ_CHECK(out != nullptr);
  Compared c;
  try {
    c.status = lt::run_compare(args, out);
  } catch (...) {
    std::fclose(out);
    std::free(buf);
    throw;
  }
  std::fclose(out);
  c.out.assign(buf, size);
  std::free(buf);
  return c;
}

std::vector<lt::CompareMetric> shown(bool e2e) {
  std::vector<lt::CompareMetric> metrics;
  for (std::size_t i = 0; i < lt::kCompareMetricCount; ++i)
    if (e2e || !is_e2e(lt::CompareMetric(i))) metrics.push_back(lt::CompareMetric(i));
  return metrics;
}

// The table and condition lines, read from the end: the header lines hold the sink, which may
// be anything.
struct Report {
  std::vector<std::string> rows;  // the table rows

  std::vector<std::string> conditions;  // the fail-if lines
};

Report report_of(const std::string& out, std::size_t rows, std::size_t conditions) {
  const auto lines = lines_of(out);
  const std::size_t tail = 1 + rows + (conditions ? 1 + conditions : 0);
  LT_FUZZ_CHECK(lines.size() >= 3 + tail);
  std::size_t at = lines.size() - tail;
  LT_FUZZ_CHECK(words_of(lines[at++]) ==
                (std::vector<std::string>{"metric", "base", "new", "change"}));
  Report r;
  for (std::size_t i = 0; i < rows; ++i) r.rows.push_back(lines[at++]);
  if (conditions) LT_FUZZ_CHECK(lines[at++].empty());
  while (at < lines.size()) r.conditions.push_back(lines[at++]);
  return r;
}

std::string pad_left(std::string_view s, std::size_t width) {
  return std::string(width > s.size() ? width - s.size() : 0, ' ') + std::string(s);
}

// A row of the same value twice and no change: the name in 10 columns, then the value twice in
// 14 each (wider values run into each other, so the two halves are compared rather than words),
// then the change and the relative change.
bool no_change(const std::string& row, lt::CompareMetric m) {
  const std::string name(lt::metric_info(m).name);
  if (row.rfind(name + std::string(10 - name.size(), ' '), 0) != 0) return false;
  for (const char* change : {"0", "0ns", "0/s"}) {
    for (const char* relative : {"+0.0%", "n/a"}) {
      const std::string tail = pad_left(change, 14) + pad_left(relative, 10);
      if (row.size() < 10 + tail.size() || !row.ends_with(tail)) continue;
      const std::string values = row.substr(10, row.size() - 10 - tail.size());
      const std::size_t half = values.size() / 2;
      return values.size() % 2 == 0 && values.size() >= 28 &&
             values.substr(0, half) == values.substr(half) &&
             values.find_first_not_of(' ') != std::string::npos;
    }
  }
  return false;
}

// The file against itself, with a condition for every change in every metric it shows: none may
// hold, and every row must show the same value twice and no change.
void check_self(const lt::ResultSummary& s) {
  const auto metrics = shown(s.has_e2e);
  std::vector<std::string> args = {g_input, g_input};
  std::size_t conditions = 0;
  for (const auto m : metrics) {
    const std::string name(lt::metric_info(m).name);
    for (const char* change : {">+0", "<-0", ">+0%", "<-0%"}) {
      args.push_back("--fail-if");
      args.push_back(name + change);
      ++conditions;
    }
  }
  const Compared c = compare(args);
  LT_FUZZ_CHECK(c.status == 0);
  LT_FUZZ_CHECK(c.out.find("HOLDS") == std::string::npos);
  LT_FUZZ_CHECK(c.out.find("\nwarning: different sinks") == std::string::npos);
  const Report r = report_of(c.out, metrics.size(), conditions);
  for (std::size_t i = 0; i < metrics.size(); ++i) LT_FUZZ_CHECK(no_change(r.rows[i], metrics[i]));
  LT_FUZZ_CHECK(r.conditions.size() == conditions);
  for (const auto& line : r.conditions) LT_FUZZ_CHECK(line.find(": ok (") != std::string::npos);
}

// Against the reference, both ways, with conditions of every form: each line must say what
// evaluate() says, and the exit status must follow. e2e conditions need both files to have it.
void check_against_reference(const lt::ResultSummary& s, const lt::ResultSummary& ref,
                             bool input_first) {
  std::vector<lt::FailIf> conds;
  std::vector<std::string> args = {input_first ? g_input : g_reference,
                                   input_first ? g_reference : g_input};
  for (std::size_t i = 0; i < lt::kCompareMetricCount; ++i) {
    const auto m = lt::CompareMetric(i);
    const auto& info = lt::metric_info(m);
    const std::string name(info.name);
    const char* value = info.kind == lt::MetricKind::Latency ? "1ms" : "5";
    for (const std::string& tail :
         {std::string(">+10%"), std::string("<=-0.5%"), ">=+" + std::string(value),
          "<-" + std::string(value), ">" + std::string(value), "<=" + std::string(value)}) {
      conds.push_back(lt::parse_fail_if(name + tail));
      args.push_back("--fail-if=" + name + tail);
    }
  }
  const lt::ResultSummary& base = input_first ? s : ref;
  const lt::ResultSummary& now = input_first ? ref : s;
  // Without conditions the table alone, whatever the values; e2e rows when both files have it.
  const std::size_t rows = shown(s.has_e2e && ref.has_e2e).size();
  if (input_first) {
    const Compared plain = compare({args[0], args[1]});
    LT_FUZZ_CHECK(plain.status == 0);
    LT_FUZZ_CHECK(plain.out.find("fail-if") == std::string::npos);
    (void)report_of(plain.out, rows, 0);
  }
  Compared c;
  try {
    c = compare(args);
  } catch (const lt::UsageError& e) {
    // Only a missing end-to-end histogram refuses a condition here (the reference has one).
    LT_FUZZ_CHECK(!s.has_e2e);
    LT_FUZZ_CHECK(e.message.rfind("--fail-if: ", 0) == 0);
    LT_FUZZ_CHECK(e.message.find('"' + g_input + "\" has no end-to-end latency") !=
                  std::string::npos);
    return;
  }
  LT_FUZZ_CHECK(s.has_e2e);
  const Report r = report_of(c.out, rows, conds.size());
  LT_FUZZ_CHECK(r.conditions.size() == conds.size());
  bool any = false;
  for (std::size_t i = 0; i < conds.size(); ++i) {
    const auto m = conds[i].metric;
    const bool holds = lt::evaluate(conds[i], base.value(m), now.value(m));
    any = any || holds;
    const std::string expected = "fail-if " + conds[i].text + ": " + (holds ? "HOLDS (" : "ok (");
    LT_FUZZ_CHECK(r.conditions[i].rfind(expected, 0) == 0);
  }
  LT_FUZZ_CHECK(c.status == (any ? 1 : 0));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/lt-compare-fuzz.XXXXXX";
  LT_FUZZ_CHECK(::mkdtemp(pattern.data()) != nullptr);
  g_dir = pattern;
  g_input = g_dir + "/input.json";
  g_reference = g_dir + "/reference.json";
  write_file(g_reference, kReference);
  std::atexit(remove_files);
  g_reference_summary = lt::read_summary(g_reference);
  LT_FUZZ_CHECK(g_reference_summary.has_e2e);
  return 0;
}

// An input is the bytes of a result file, unless its first byte is 0xff (never in JSON or UTF-8
// text): then the rest are edits of the reference (edited_reference).
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const bool edits = size > 0 && data[0] == 0xff;
  const std::string edited = edits ? edited_reference(data + 1, size - 1) : std::string();
  const std::string_view text = edits ? std::string_view(edited)
                                      : std::string_view(reinterpret_cast<const char*>(data), size);
  write_file(g_input, text);
  std::optional<lt::ResultSummary> summary;
  try {
    summary = lt::read_summary(g_input);
  } catch (const lt::UsageError& e) {
    check_file_error(e.message);
    check_refusal(e.message, text);
    // compare itself refuses the file with the same message, whichever side it is on.
    for (const bool first : {true, false}) {
      try {
        (void)compare({first ? g_input : g_reference, first ? g_reference : g_input});
        LT_FUZZ_CHECK(!"compare took a file read_summary refused");
      } catch (const lt::UsageError& again) {
        LT_FUZZ_CHECK(again.message == e.message);
      }
    }
    return 0;
  } catch (const std::exception& e) {
    unexpected(e.what());
  }
  try {
    check_summary(*summary, text);
    check_self(*summary);
    check_against_reference(*summary, g_reference_summary, true);
    check_against_reference(*summary, g_reference_summary, false);
  } catch (const lt::UsageError& e) {
    unexpected(("UsageError " + e.message).c_str());
  } catch (const std::exception& e) {
    unexpected(e.what());
  }
  return 0;
}
