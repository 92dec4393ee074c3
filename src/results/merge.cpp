#include "results/merge.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "report/atomic_file.hpp"
#include "report/console.hpp"
#include "report/result_json.hpp"
#include "results/result_file.hpp"

namespace lt {

using nlohmann::json;

namespace {

// Settings that are the machine's, not the test's: they may differ between ranks.
const char* const kPerMachine[] = {"threads", "source_ips"};

json test_identity(const json& result) {
  json o = result.at("options");
  for (const char* key : kPerMachine) o.erase(key);
  return o;
}

std::string first_difference(const json& a, const json& b) {
  for (const auto& [key, value] : a.items())
    if (!b.contains(key) || b[key] != value)
      return fmt::format("{}: {} vs {}", key, value.dump(),
                         b.contains(key) ? b[key].dump() : "none");
  for (const auto& [key, value] : b.items())
    if (!a.contains(key)) return fmt::format("{}: none vs {}", key, value.dump());
  return "";
}

HdrHistogram decode(const json& text, const std::string& name, const std::string& what) {
  auto h = text.is_string() ? HdrHistogram::decode_base64(text.get<std::string>()) : std::nullopt;
  if (!h) throw UsageError{fmt::format("merge: {}: {} does not decode", name, what)};
  return *h;
}

void add_into(HdrHistogram& sum, const HdrHistogram& h, const std::string& name,
              const std::string& what) {
  if (!sum.add(h))
    throw UsageError{fmt::format(
        "merge: {}: {} has other histogram settings (lowest {}, highest {}, {} significant "
        "figures) than the others (lowest {}, highest {}, {})",
        name, what, h.lowest(), h.highest(), h.significant_figures(), sum.lowest(), sum.highest(),
        sum.significant_figures())};
}

Counters counters_of(const json& j) {
  Counters c;
  for (std::size_t i = 0; i < c.v.size(); ++i)
    c.v[i] = j.value(std::string(kCounterNames[i]), std::uint64_t(0));
  return c;
}

// Checks the parts are the ranks 0..size-1 of one test; returns them in rank order.
std::vector<std::size_t> check_parts(const std::vector<json>& parts,
                                     const std::vector<std::string>& names) {
  if (parts.empty()) throw UsageError{"merge: expected result files to merge"};
  for (std::size_t i = 0; i < parts.size(); ++i)
    for (const char* key : {"options", "run", "counters", "histograms", "intervals"})
      if (!parts[i].is_object() || !parts[i].contains(key))
        results::not_a_result("merge", names[i], fmt::format("no \"{}\"", key));
  const json identity = test_identity(parts[0]);
  const std::uint64_t size = parts[0].at("run").value("size", 1);
  std::map<std::uint64_t, std::size_t> by_rank;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const json& run = parts[i].at("run");
    if (!run.at("rank").is_number_unsigned())
      throw UsageError{fmt::format("merge: {} is already a merged result", names[i])};
    if (auto diff = first_difference(identity, test_identity(parts[i])); !diff.empty())
      throw UsageError{
          fmt::format("merge: {} is from a different test than {} ({})", names[i], names[0], diff)};
    if (run.value("size", std::uint64_t(1)) != size)
      throw UsageError{fmt::format("merge: {} is rank {} of {}, {} of {}", names[i],
                                   run.value("rank", 0), run.value("size", 1), names[0], size)};
    const std::uint64_t rank = run.at("rank");
    if (auto [at, fresh] = by_rank.emplace(rank, i); !fresh)
      throw UsageError{
          fmt::format("merge: rank {} twice: {} and {}", rank, names[at->second], names[i])};
  }
  for (std::uint64_t r = 0; r < size; ++r)
    if (!by_rank.count(r))
      throw UsageError{
          fmt::format("merge: rank {} of {} is missing (got {} file(s))", r, size, parts.size())};
  std::vector<std::size_t> order;
  for (const auto& [rank, i] : by_rank) order.push_back(i);
  return order;
}

const char* const kHistograms[][2] = {{"latency", "latency"},         {"service", "service"},
                                      {"lateness", "lateness"},       {"connect", "connect"},
                                      {"tls_handshake", "handshake"}, {"e2e", "e2e"}};

HdrHistogram& member(Recorder& r, std::string_view field) {
  if (field == "latency") return r.latency;
  if (field == "service") return r.service;
  if (field == "lateness") return r.lateness;
  if (field == "connect") return r.connect;
  if (field == "handshake") return r.handshake;
  return r.e2e;
}

std::vector<IntervalPoint> merge_intervals(const std::vector<json>& parts,
                                           const std::vector<std::size_t>& order,
                                           const std::vector<std::string>& names, Nanos update) {
  std::map<std::uint64_t, IntervalPoint> points;
  std::map<std::uint64_t, HdrHistogram> latency;
  for (std::size_t i : order) {
    for (const json& p : parts[i].at("intervals")) {
      const std::uint64_t index = p.value("index", std::uint64_t(0));
      IntervalPoint& m = points[index];
      m.index = index;
      m.start = Nanos(index) * update;
      m.length = std::max<Nanos>(m.length, p.value("length_ns", Nanos(0)));
      m.counters.add(counters_of(p.at("counters")));
      m.connected += p.value("connected", 0u);
      m.rss_kib += p.value("rss_kib", std::uint64_t(0));  // the whole test's memory
      // Per-interval lateness has no histogram in the file: the latest rank's p99 stands.
      m.lateness_p99 = std::max<std::int64_t>(m.lateness_p99, p.value("lateness_p99_ns", 0));
      const std::string what = fmt::format("intervals[{}].latency_hdr", index);
      if (p.contains("latency_hdr"))
        add_into(latency[index], decode(p.at("latency_hdr"), names[i], what), names[i], what);
    }
  }
  std::vector<IntervalPoint> out;
  for (auto& [index, m] : points) {
    const HdrHistogram& h = latency[index];
    m.latency_p50 = h.value_at_percentile(50);
    m.latency_p99 = h.value_at_percentile(99);
    m.latency_max = h.max();
    m.latency_hdr = h.encode_base64();
    out.push_back(std::move(m));
  }
  return out;
}

// The whole test as a run: what the summary prints. Filled in place: `run` points at `options`.
struct Merged {
  Options options;
  RunResult run;
};

json merge_parts(const std::vector<json>& parts, const std::vector<std::string>& names, Merged& m) {
  const std::vector<std::size_t> order = check_parts(parts, names);
  const json& first = parts[order.front()];
  Options& o = m.options;
  o = results::options_of(first);
  RunResult& run = m.run;
  run.options = &o;
  run.start_unix_ns = INT64_MAX;
  std::vector<std::string> targets;
  for (std::size_t i : order) {
    const json& p = parts[i];
    const json& r = p.at("run");
    run.total.counters.add(counters_of(p.at("counters")));
    if (p.contains("error_codes"))
      for (const auto& [code, n] : p.at("error_codes").items())
        run.total.codes[code] += n.get<std::uint64_t>();
    for (const auto& [key, field] : kHistograms) {
      const std::string what = std::string("histograms.") + key + ".hdr";
      if (p.at("histograms").contains(key))
        add_into(member(run.total, field),
                 decode(p.at("histograms").at(key).at("hdr"), names[i], what), names[i], what);
    }
    const std::string target = r.value("target", "");
    if (std::find(targets.begin(), targets.end(), target) == targets.end())
      targets.push_back(target);
    run.workers += r.value("workers", 0u);
    run.start_unix_ns = std::min(run.start_unix_ns, r.value("start_unix_ns", Nanos(0)));
    run.start_late_ns = std::max(run.start_late_ns, r.value("start_late_ns", Nanos(0)));
    run.elapsed = std::max(run.elapsed, r.value("elapsed_ns", Nanos(0)));
    run.connect_phase = std::max(run.connect_phase, r.value("connect_phase_ns", Nanos(0)));
    run.connected_at_start += r.value("connected_at_start", 0u);
    run.phase_connects += r.at("connect").value("established", std::uint64_t(0));
    run.phase_connect_span =
        std::max(run.phase_connect_span, r.at("connect").value("span_ns", Nanos(0)));
    run.interrupted = run.interrupted || r.value("interrupted", false);
    run.max_rss_kib = std::max(run.max_rss_kib, r.value("max_rss_kib", std::uint64_t(0)));
    run.rss_before_devices_kib =
        std::max(run.rss_before_devices_kib, r.value("rss_before_devices_kib", std::uint64_t(0)));
    run.rss_connected_kib =
        std::max(run.rss_connected_kib, r.value("rss_connected_kib", std::uint64_t(0)));
    run.cpu_seconds += r.value("cpu_seconds", 0.0);
  }
  run.target = fmt::format("{}", fmt::join(targets, ","));
  run.intervals = merge_intervals(parts, order, names, o.update);
  json out = result_to_json(run);
  // The whole test's record: the options as every rank had them, the ranks it came from.
  out["options"] = first.at("options");
  out["options"]["threads"] = run.workers;
  json& r = out["run"];
  r["rank"] = nullptr;
  r["size"] = parts.size();
  r["devices"] = o.devices;
  r["placement"] = "merged";
  r["start_at_unix_ns"] = first.at("run").value("start_at_unix_ns", json());
  json from = json::array();
  for (std::size_t i : order)
    from.push_back({{"file", names[i]}, {"rank", parts[i].at("run").at("rank")}});
  r["merged_from"] = from;
  return out;
}

json merge_into(const std::vector<json>& parts, const std::vector<std::string>& names, Merged& m) {
  try {
    return merge_parts(parts, names, m);
  } catch (const json::exception& e) {
    // A file edited by hand or by another tool: a field of the wrong type, somewhere.
    throw UsageError{fmt::format("merge: a file holds a field of the wrong type ({})", e.what())};
  }
}

}  // namespace

json merge_results(const std::vector<json>& parts, const std::vector<std::string>& names) {
  Merged m;
  return merge_into(parts, names, m);
}

int run_merge(const std::vector<std::string>& args, std::FILE* out) {
  std::vector<std::string> files;
  std::string output;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-o" || a == "--output") {
      if (i + 1 >= args.size()) throw UsageError{fmt::format("{}: expected a file name", a)};
      output = args[++i];
    } else if (a.rfind("-o=", 0) == 0 || a.rfind("--output=", 0) == 0) {
      output = a.substr(a.find('=') + 1);
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError{
          fmt::format("merge: unknown flag \"{}\" (usage: load-tester merge "
                      "r0.json r1.json ... [-o all.json])",
                      a)};
    } else {
      files.push_back(a);
    }
  }
  if (files.empty())
    throw UsageError{
        "merge: expected result files (usage: load-tester merge r0.json r1.json ... "
        "[-o all.json])"};
  std::vector<json> parts;
  for (const auto& f : files) parts.push_back(results::read_result(f, "merge"));
  Merged m;
  const json merged = merge_into(parts, files, m);
  AtomicFile file;
  std::string error;
  if (!output.empty() && !file.open(output, error))
    throw UsageError{fmt::format("-o: cannot write \"{}\": {}", output, error)};
  fmt::print(out, "merged {} rank(s): {}\n", parts.size(), fmt::join(files, " "));
  print_summary(out, m.run);  // the whole test, as a single run prints it
  if (!output.empty()) {
    const std::string text = merged.dump(1) + "\n";  // fwrite: a full disk is commit()'s error
    std::fwrite(text.data(), 1, text.size(), file.stream());
    if (!file.commit(error)) {
      fmt::print(stderr, "load-tester: -o: could not write \"{}\": {}\n", output, error);
      return 1;
    }
  }
  return 0;
}

}  // namespace lt
