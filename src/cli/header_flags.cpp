#include "cli/header_flags.hpp"

#include <fmt/format.h>

#include <array>

#include "http/syntax.hpp"

namespace lt {

std::string check_header_line(const std::string& h) {
  const auto colon = h.find(':');
  if (colon == std::string::npos || colon == 0)
    return fmt::format("expected 'Name: value', got \"{}\"", h);
  const std::string_view name(h.data(), colon);
  for (char c : name)
    if (!http::token_char(c)) return fmt::format("invalid header name \"{}\"", name);
  // A control byte would end the header early or smuggle another one in.
  for (char c : std::string_view(h).substr(colon + 1))
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
      return fmt::format("control character in the value of \"{}\"", name);
  return "";
}

bool secret_header(std::string_view name) {
  for (std::string_view exact : {"authorization", "proxy-authorization", "cookie"})
    if (http::iequals(name, exact)) return true;
  // X-Api-Key, X-Auth-Token, X-Vault-Token, Private-Token, X-Amz-Security-Token, ...
  static constexpr std::array<std::string_view, 6> kParts = {"auth",     "token",  "secret",
                                                             "password", "apikey", "api-key"};
  std::string lower(name);
  for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view part : kParts)
    if (lower.find(part) != std::string::npos) return true;
  return false;
}

namespace {

std::string redacted(const std::string& line) {
  return line.substr(0, line.find(':')) + ": <redacted>";
}

std::string check_line(const std::string& line,
                       const std::function<std::string(const std::string&)>& check) {
  if (auto why = check_header_line(line); !why.empty()) return why;
  return check ? check(line) : "";
}

}  // namespace

void add_header_flags(Flags& f) {
  f.repeated("-H,--header", "'NAME: VALUE'",
             "http, nats: header, repeatable (credentials: use --header-file)");
  f.value("--header-file", "FILE",
          "http, nats: headers read from a file, one 'NAME: VALUE' per line; never shown");
}

HeaderSet read_headers(Flags& f, const std::function<std::string(const std::string&)>& check) {
  HeaderSet set;
  for (const auto& h : f.values("-H,--header")) {
    if (auto why = check_line(h, check); !why.empty()) throw UsageError{"--header: " + why};
    set.wire.push_back(h);
    set.shown.push_back(secret_header(h.substr(0, h.find(':'))) ? redacted(h) : h);
  }
  if (!f.given("--header-file")) return set;
  f.path("--header-file", set.file);
  std::string text, why;
  if (!read_text_file(set.file, text, why))
    throw UsageError{fmt::format("--header-file: cannot read \"{}\": {}", set.file, why)};
  std::size_t number = 0, from = 0;
  while (from < text.size()) {
    std::size_t end = text.find('\n', from);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(from, end - from);
    from = end + 1;
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const auto colon = line.find(':');
    // The line itself is never quoted: it may hold the secret the file exists to keep.
    const std::string bad = colon == std::string::npos || colon == 0 ? "expected 'Name: value'"
                                                                     : check_line(line, check);
    if (!bad.empty())
      throw UsageError{fmt::format("--header-file: \"{}\" line {}: {}", set.file, number, bad)};
    set.wire.push_back(line);
    set.shown.push_back(redacted(line));
  }
  if (set.wire.size() == f.values("-H,--header").size())
    throw UsageError{fmt::format("--header-file: \"{}\" holds no header", set.file)};
  return set;
}

}  // namespace lt
