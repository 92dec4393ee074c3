// Fuzzes the whole command-line parser, lt::parse_options, and the name templates
// (lt::NameTemplate) its flags use. Input: the words of a command line, separated by NUL or
// newline bytes (so no word holds either), after "load-tester". The parser must return Options or
// throw a UsageError of one non-empty line, nothing else; Options satisfy the checks validation
// promises (rank < size <= devices, positive rates); describe_options() of them must split back
// into words (as a shell would) that parse to Options described by the same line. The same input
// as text is a template: it fails with a reason, or expands with one device id and one rank per
// placeholder, and every text with its braces doubled is a template expanding to the text.
//
// Flags that read files (--body-file, --password-file, --token-file, --header-file,
// --kafka-config, --ca-file) or name files written later (--json, --hdr-log) get /dev/null, or a
// path under /dev/null that cannot exist, so a run never reads, blocks on or creates a file; a
// word naming a librdkafka plugin (-X plugin.library.paths=..., loaded when set) is dropped; the
// launchers' environment variables are unset once, so every run parses alike.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../tests/unit/options_args.hpp"
#include "cli/options.hpp"
#include "core/template.hpp"
#include "harness.hpp"
#include "sinks/registry.hpp"

namespace {

constexpr std::size_t kMaxWords = 64;

// What the parser reads from the environment (src/cli/placement.cpp, src/cli/broker_flags.cpp).
constexpr const char* kEnvironment[] = {
    "LT_RANK",  "LT_SIZE",      "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_RANK",
    "PMI_SIZE", "SLURM_PROCID", "SLURM_NTASKS",         "JOB_COMPLETION_INDEX", "LT_PASSWORD",
    "LT_TOKEN"};

// Flags whose value is a file the parser reads; then the two it only records (describe_options()
// prints those two unquoted, so their safe paths keep no character a shell word would split on).
constexpr std::string_view kReadFlags[] = {"body-file",   "password-file", "token-file",
                                           "header-file", "kafka-config",  "ca-file"};
constexpr std::string_view kWriteFlags[] = {"json", "hdr-log"};

enum class FileFlag { None, Read, Write };

// The flag a word names, however many dashes lead it, and where its "=value" starts (npos: none).
FileFlag file_flag(std::string_view word, std::size_t& eq) {
  const std::size_t dashes = word.find_first_not_of('-');
  if (dashes == 0 || dashes == std::string_view::npos) return FileFlag::None;
  eq = word.find('=');
  const std::string_view name = word.substr(dashes, eq == word.npos ? eq : eq - dashes);
  for (std::string_view f : kReadFlags)
    if (name == f) return FileFlag::Read;
  for (std::string_view f : kWriteFlags)
    if (name == f) return FileFlag::Write;
  return FileFlag::None;
}

// A path that is harmless to read or to check: empty stays empty (the parser's own error),
// /dev/null stays, anything else goes under /dev/null, where nothing can exist.
std::string safe_path(std::string_view value, FileFlag kind) {
  if (value.empty() || value == "/dev/null") return std::string(value);
  std::string out = "/dev/null/";
  for (char c : value)
    if (kind == FileFlag::Read || (c != ' ' && c != '\'' && c != '\\')) out += c;
  return out;
}

bool names_plugin(std::string_view word) {
  std::string lower(word);
  for (char& c : lower) c = char(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return lower.find("plugin") != std::string::npos;
}

std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> words;
  for (std::size_t at = 0; !text.empty() && at <= text.size() && words.size() < kMaxWords;) {
    const std::size_t end =
        std::min(text.find_first_of(std::string_view("\0\n", 2), at), text.size());
    words.emplace_back(text.substr(at, end - at));
    at = end + 1;
  }
  std::vector<std::string> out;
  FileFlag pending = FileFlag::None;  // the previous word was a file flag without "=value"
  for (std::string& w : words) {
    if (names_plugin(w)) continue;
    if (pending != FileFlag::None) {
      out.push_back(safe_path(w, pending));
      pending = FileFlag::None;
      continue;
    }
    std::size_t eq = std::string::npos;
    const FileFlag kind = file_flag(w, eq);
    if (kind != FileFlag::None && eq != std::string::npos)
      w = w.substr(0, eq + 1) + safe_path(std::string_view(w).substr(eq + 1), kind);
    else
      pending = kind;
    out.push_back(std::move(w));
  }
  return out;
}

void show(const char* what, const std::vector<std::string>& words) {
  std::fprintf(stderr, "%s:", what);
  for (const auto& w : words) std::fprintf(stderr, " [%s]", w.c_str());
  std::fprintf(stderr, "\n");
}

// Parses `words`; nullopt on a UsageError, which must be one non-empty line. Anything else thrown
// aborts, naming it.
std::optional<lt::Options> parse(const std::vector<std::string>& words, std::string& text) {
  try {
    return lt::test::parse(words, &text);
  } catch (const lt::UsageError& e) {
    if (e.message.empty() || e.message.find('\n') != std::string::npos) {
      show("words", words);
      std::fprintf(stderr, "usage error: [%s]\n", e.message.c_str());
    }
    LT_FUZZ_CHECK(!e.message.empty() && e.message.find('\n') == std::string::npos);
  } catch (const std::exception& e) {
    show("words", words);
    std::fprintf(stderr, "threw %s\n", e.what());
    LT_FUZZ_CHECK(!"an exception other than UsageError");
  } catch (...) {
    show("words", words);
    LT_FUZZ_CHECK(!"an exception other than UsageError");
  }
  return std::nullopt;
}

void check_options(std::string_view input) {
  const std::vector<std::string> words = words_of(input);
  std::string text;
  const auto o = parse(words, text);
  if (!o) return;
  if (o->command == lt::Command::Help || o->command == lt::Command::Version) {
    LT_FUZZ_CHECK(!text.empty() && text.back() == '\n');
    if (o->command == lt::Command::Version) LT_FUZZ_CHECK(text.starts_with("load-tester "));
    return;
  }
  // What validation promises the engine.
  LT_FUZZ_CHECK(o->size >= 1 && o->rank < o->size && o->devices >= o->size);
  LT_FUZZ_CHECK(o->local_devices() >= 1);
  LT_FUZZ_CHECK(o->msg.positive() && (!o->rate || o->rate->positive()));
  LT_FUZZ_CHECK(!(o->closed_loop && o->rate));
  if (o->command == lt::Command::Run && o->sink != "http") {
    const lt::SinkInfo* sink = lt::find_sink(o->sink);
    LT_FUZZ_CHECK(sink && o->payload >= sink->min_payload && o->payload <= (16u << 20));
  }

  const std::string line = lt::describe_options(*o);
  LT_FUZZ_CHECK(line.find('\n') == std::string::npos);
  const std::vector<std::string> again = lt::test::split(line);
  std::optional<lt::Options> reparsed;
  try {
    reparsed = lt::test::parse(again, &text);
  } catch (const lt::UsageError& e) {
    show("words", words);
    std::fprintf(stderr, "described: %s\nparsing it back: %s\n", line.c_str(), e.message.c_str());
    LT_FUZZ_CHECK(!"describe_options() parses back");
  }
  const std::string line_again = lt::describe_options(*reparsed);
  if (line_again != line) {
    show("words", words);
    std::fprintf(stderr, "described: %s\nparsed back: %s\n", line.c_str(), line_again.c_str());
  }
  LT_FUZZ_CHECK(line_again == line);
}

void check_template(std::string_view text) {
  std::string why;
  if (const auto t = lt::NameTemplate::parse(text, why)) {
    // Each {device} is the id's digits, each {rank} the rank's, in the same literal text: from
    // one-digit values, each more digit makes it a byte longer per placeholder.
    const std::size_t base = t->expand(0, 0).size();
    const std::size_t devices = t->expand(10, 0).size() - base;
    const std::size_t ranks = t->expand(0, 10).size() - base;
    LT_FUZZ_CHECK(t->uses_device() == (devices > 0));
    LT_FUZZ_CHECK(t->expand(123456, 9999).size() == base + 5 * devices + 3 * ranks);
    LT_FUZZ_CHECK(t->expand(UINT64_MAX, 7).size() == base + 19 * devices);
    if (!t->uses_device()) LT_FUZZ_CHECK(t->expand(1, 3) == t->expand(2, 3));
  } else {
    LT_FUZZ_CHECK(!why.empty());
  }
  // Doubled braces are literal ones: the text itself, with no placeholder.
  std::string escaped;
  for (char c : text) escaped += c == '{' || c == '}' ? std::string(2, c) : std::string(1, c);
  const auto literal = lt::NameTemplate::parse(escaped, why);
  LT_FUZZ_CHECK(literal && !literal->uses_device());
  LT_FUZZ_CHECK(literal->expand(5, 6) == text);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  for (const char* name : kEnvironment) unsetenv(name);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_options(text);
  check_template(text);
  return 0;
}
