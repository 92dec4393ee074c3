#pragma once
// The flag table shared by the option files: every flag's raw text is kept and parsed here
// rather than by CLI11, so units work and every error names its flag and accepted range in the
// same words. Used only while parsing the command line.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli/options.hpp"
#include "cli/units.hpp"

namespace lt {

// Exact and re-parseable, so describe_options() output can be pasted back as flags.
std::string format_exact(Nanos ns);
std::string format_exact(Rate r);
// A flag as a shell word: quoted only when it must be, so simple flags paste back unchanged.
std::string shell_word(const std::string& flag);
// A whole file, for --body-file, --password-file and checks of --ca-file; false with `why`.
bool read_text_file(const std::string& path, std::string& out, std::string& why);
// An IP address or a DNS name (letters, digits, '-', '_', '.').
bool valid_hostname(std::string_view host);

class Flags {
 public:
  explicit Flags(CLI::App& app) : app_(app) {}

  void value(const std::string& name, const std::string& type, const std::string& help) {
    app_.add_option(name, raw_[name], help)->type_name(type);
  }
  // A flag that may repeat (-H); every value is kept in order.
  void repeated(const std::string& names, const std::string& type, const std::string& help) {
    app_.add_option(names, multi_[names], help)
        ->type_name(type)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  }
  const std::vector<std::string>& values(const std::string& names) { return multi_[names]; }
  bool given(const std::string& name) const { return app_.count(name) > 0; }
  const std::string& raw(const std::string& name) { return raw_[name]; }

  template <typename T>
  void count(const std::string& name, T& out, std::uint64_t lo, std::uint64_t hi) {
    if (given(name))
      check(name, out, parse_count(raw(name)), lo, hi,
            fmt::format("expected a whole number from {} to {}", lo, hi));
  }
  void size(const std::string& name, std::uint64_t& out, std::uint64_t lo, std::uint64_t hi) {
    if (given(name))
      check(name, out, parse_size(raw(name)), lo, hi,
            fmt::format("expected a size from {} to {} bytes (e.g. 64, 1KiB)", lo, hi));
  }
  void duration(const std::string& name, Nanos& out, Nanos lo, Nanos hi) {
    if (!given(name)) return;
    const std::string range =
        lo == 1 ? fmt::format("greater than 0 and at most {}", format_exact(hi))
                : fmt::format("from {} to {}", format_exact(lo), format_exact(hi));
    check(name, out, parse_duration(raw(name)), lo, hi,
          fmt::format("expected a duration {} (e.g. 500ms, 2m)", range));
  }
  std::optional<Rate> rate(const std::string& name, std::uint64_t per_second_max) {
    if (!given(name)) return std::nullopt;
    auto v = parse_rate(raw(name));
    if (!v || !v->positive() || v->num > per_second_max * v->den)
      fail(name, fmt::format("expected a rate greater than 0 and at most {} per second "
                             "(e.g. 0.5, 10k)",
                             per_second_max));
    return v;
  }
  void choice(const std::string& name, std::string& out, const std::vector<std::string>& accepted,
              const std::string& what) {
    if (!given(name)) return;
    if (std::find(accepted.begin(), accepted.end(), raw(name)) == accepted.end())
      throw UsageError{fmt::format("{}: unknown {} \"{}\" (accepted: {})", name, what, raw(name),
                                   fmt::join(accepted, ", "))};
    out = raw(name);
  }
  void path(const std::string& name, std::string& out) {
    if (!given(name)) return;
    if (raw(name).empty()) fail(name, "expected a file name");
    out = raw(name);
  }
  template <typename T, typename V>
  void check(const std::string& name, T& out, std::optional<V> v, V lo, V hi,
             const std::string& expected) {
    if (!v || *v < lo || *v > hi) fail(name, expected);
    out = T(*v);
  }
  [[noreturn]] void fail(const std::string& name, const std::string& expected) {
    throw UsageError{fmt::format("{}: {}, got \"{}\"", name, expected, raw(name))};
  }

 private:
  CLI::App& app_;
  // Node-based: CLI11 keeps references into them.
  std::map<std::string, std::string> raw_;
  std::map<std::string, std::vector<std::string>> multi_;
};

}  // namespace lt
