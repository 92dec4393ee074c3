#include "cli/http_flags.hpp"

#include <string_view>

#include "cli/header_flags.hpp"
#include "http/syntax.hpp"
#include "http/url.hpp"

namespace lt {

namespace {

const std::vector<std::string> kMethods = {"GET",    "HEAD",  "POST",    "PUT",
                                           "DELETE", "PATCH", "OPTIONS", "TRACE"};
constexpr std::uint64_t kMaxBody = 16u << 20;

// The framing headers are ours to write.
std::string check_header(const std::string& h) {
  const std::string_view name(h.data(), h.find(':'));
  if (http::iequals(name, "Content-Length") || http::iequals(name, "Transfer-Encoding"))
    return fmt::format("\"{}\" is set by the tool from the body", name);
  return "";
}

void need_http(Flags& f, const Options& o, const char* name) {
  if (f.given(name) && o.sink != "http")
    throw UsageError{fmt::format("{}: only with --sink http", name)};
}

}  // namespace

void add_http_flags(Flags& f) {
  f.value("--path", "PATH", "http: request path and query [/]");
  f.value("--method", "METHOD", "http: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE [GET]");
  add_header_flags(f);
  f.value("--body", "TEXT", "http: request body");
  f.value("--body-file", "FILE", "http: request body read from a file");
  f.value("--pipeline", "N", "http: requests in flight per connection, 1..1024 [1]");
}

void validate_http(Flags& f, Options& o) {
  for (const char* name : {"--path", "--method", "--body", "--body-file", "--pipeline"})
    need_http(f, o, name);
  for (const char* name : {"--header", "--header-file"})
    if (f.given(name) && o.sink != "http" && o.sink != "nats")
      throw UsageError{fmt::format("{}: only with --sink http or nats", name)};
  if (o.sink != "http") return;

  if (f.given("--payload"))
    throw UsageError{
        "--payload: not used by --sink http; give the body with --body or --body-file"};
  if (o.echo) throw UsageError{"--echo: not used by --sink http (every request is answered)"};
  if (f.given("--url") && f.given("--path"))
    throw UsageError{"--url: give either --url or --hostname/--port/--path, not both"};
  if (f.given("--path")) {
    const std::string& p = f.raw("--path");
    std::string why;
    auto url =
        http::parse_url("http://h" + (p.empty() || p[0] == '/' || p[0] == '?' ? p : "/" + p), why);
    if (!url || p.empty()) f.fail("--path", "expected a path of visible ASCII, e.g. /api?x=1");
    o.http.target = url->target;
  }
  f.choice("--method", o.http.method, kMethods, "method");
  HeaderSet headers = read_headers(f, check_header);
  o.http.headers = std::move(headers.wire);
  o.http.shown_headers = std::move(headers.shown);
  o.http.header_file = std::move(headers.file);
  if (f.given("--body") && f.given("--body-file"))
    throw UsageError{"--body and --body-file are exclusive: give one"};
  if (f.given("--body")) o.http.body = f.raw("--body");
  if (f.given("--body-file")) {
    f.path("--body-file", o.http.body_file);
    std::string why;
    if (!read_text_file(o.http.body_file, o.http.body, why))
      throw UsageError{fmt::format("--body-file: cannot read \"{}\": {}", o.http.body_file, why)};
  }
  if (o.http.body.size() > kMaxBody)
    throw UsageError{fmt::format("--body: at most {} bytes, got {}", kMaxBody, o.http.body.size())};
  if (!o.http.body.empty() && (o.http.method == "HEAD" || o.http.method == "TRACE"))
    throw UsageError{fmt::format("--body: a {} request has no body", o.http.method)};
  f.count("--pipeline", o.http.pipeline, 1, 1024);
  // Reports show the body's size where other sinks show the payload.
  o.payload = o.http.body.size();
}

std::string describe_http(const Options& o) {
  std::string s;
  if (o.sink == "http") {
    s += fmt::format(" {} --method={} --pipeline={}", shell_word("--path=" + o.http.target),
                     o.http.method, o.http.pipeline);
    for (const auto& h : o.http.shown_headers) s += " " + shell_word("--header=" + h);
    if (!o.http.header_file.empty()) s += " " + shell_word("--header-file=" + o.http.header_file);
    if (!o.http.body_file.empty()) {
      s += " " + shell_word("--body-file=" + o.http.body_file);
    } else if (!o.http.body.empty()) {
      s += " " + shell_word("--body=" + o.http.body);
    }
  }
  return s;
}

}  // namespace lt
