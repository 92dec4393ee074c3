#include "cli/target_flags.hpp"

#include "http/url.hpp"

namespace lt {

namespace {
// The URL as errors show it: a password someone put in it (which is refused) stays hidden.
std::string shown_url(const std::string& text) {
  const auto sep = text.find("://");
  if (sep == std::string::npos) return text;
  const auto end = text.find_first_of("/?#", sep + 3);
  const auto at = text.rfind('@', end);
  if (at == std::string::npos || at < sep) return text;
  const auto colon = text.find(':', sep + 3);
  if (colon == std::string::npos || colon > at) return text;
  return text.substr(0, colon + 1) + "****" + text.substr(at);
}

bool speaks_tls(const std::string& sink) {
  return sink == "http" || sink == "mqtt" || sink == "nats" || sink == "amqp" || sink == "kafka";
}
}  // namespace

void add_target_flags(Flags& f, CLI::App& app, Options& o) {
  f.value("--url", "URL",
          "http[s]://host[:port]/path, mqtt[s]://host[:port], nats|tls://host[:port] or "
          "amqp[s]://[user@]host[:port][/vhost]: sets the sink, host, port and TLS");
  f.value("--ca-file", "FILE", "TLS: trust these CA certificates (PEM) instead of the system's");
  app.add_flag("--tls", o.tls.enabled,
               "connect with TLS (implied by https://, mqtts://, tls:// and amqps://)");
  app.add_flag("--insecure", o.tls.insecure, "TLS: do not verify the server's certificate");
}

void validate_target(Flags& f, Options& o) {
  if (f.given("--url")) {
    const std::string shown = shown_url(f.raw("--url"));
    if (f.given("--hostname") || f.given("--port"))
      throw UsageError{"--url: give either --url or --hostname/--port, not both"};
    std::string why;
    auto url = http::parse_url(f.raw("--url"), why);
    if (!url) throw UsageError{fmt::format("--url: {}, got \"{}\"", why, shown)};
    if (!valid_hostname(url->host))
      throw UsageError{fmt::format(
          "--url: the host is neither an IP address nor a DNS name, got \"{}\"", shown)};
    if (f.given("--sink") && o.sink != url->sink)
      throw UsageError{fmt::format("--url: a {}:// URL is for --sink {}, not {}", url->scheme,
                                   url->sink, o.sink)};
    if (url->sink == "amqp") {
      // amqp://host/vhost: the path is the percent-encoded virtual host ("/" = the default).
      if (url->target.find('?') != std::string::npos)
        throw UsageError{
            fmt::format("--url: query parameters are not accepted, got \"{}\"", shown)};
      const std::string_view path = std::string_view(url->target).substr(1);
      auto vhost = http::percent_decode(path);
      if (!vhost || path.find('/') != std::string_view::npos)
        throw UsageError{fmt::format(
            "--url: the path of an amqp:// URL is one percent-encoded virtual host (/%2F for "
            "\"/\"), got \"{}\"",
            shown)};
      if (!vhost->empty()) o.amqp.vhost = *vhost;
      o.auth.username = url->user;
    } else if (url->sink != "http" && url->target != "/")
      throw UsageError{
          fmt::format("--url: a {}:// URL has no path, got \"{}\"", url->scheme, shown)};
    o.sink = url->sink;
    o.hostname = url->host;
    o.target_flag = "--url";
    o.port = url->port;
    o.http.target = url->target;
    o.tls.enabled = o.tls.enabled || url->tls;
  }
  for (const char* name : {"--tls", "--ca-file", "--insecure"})
    if (f.given(name) && !speaks_tls(o.sink))
      throw UsageError{fmt::format(
          "{}: only with a sink that speaks TLS (http, mqtt, nats, amqp, kafka)", name)};
  if (f.given("--ca-file")) {
    f.path("--ca-file", o.tls.ca_file);
    std::string content, why;
    if (!read_text_file(o.tls.ca_file, content, why))
      throw UsageError{fmt::format("--ca-file: cannot read \"{}\": {}", o.tls.ca_file, why)};
  }
  if ((f.given("--ca-file") || o.tls.insecure) && !o.tls.enabled)
    throw UsageError{
        "--ca-file and --insecure need TLS: use an https://, mqtts://, tls:// or amqps:// URL, or "
        "--tls"};
  if (o.tls.insecure && !o.tls.ca_file.empty())
    throw UsageError{"--insecure and --ca-file contradict each other: give one"};
}

std::string describe_target(const Options& o) {
  std::string s;
  if (o.tls.enabled) s += " --tls";
  if (!o.tls.ca_file.empty()) s += " " + shell_word("--ca-file=" + o.tls.ca_file);
  if (o.tls.insecure) s += " --insecure";
  return s;
}

}  // namespace lt
