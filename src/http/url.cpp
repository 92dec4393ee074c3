#include "http/url.hpp"

#include <algorithm>
#include <cctype>

#include "http/syntax.hpp"

namespace lt::http {

namespace {
// Visible ASCII only: a space or control byte would split or corrupt the request line.
bool valid_target(std::string_view t) {
  return std::all_of(t.begin(), t.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}
}  // namespace

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (s.size() - i < 3) return std::nullopt;
    const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(char(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::optional<Url> parse_url(std::string_view text, std::string& why) {
  Url url;
  const auto sep = text.find("://");
  if (sep == std::string_view::npos) {
    why = "expected scheme://host[:port]/path, e.g. http://127.0.0.1:8080/ or mqtt://broker:1883";
    return std::nullopt;
  }
  struct Scheme {
    std::string_view name, sink;
    bool tls;
    std::uint16_t port;
  };
  static constexpr Scheme kSchemes[] = {
      {"http", "http", false, 80},   {"https", "http", true, 443},  {"mqtt", "mqtt", false, 1883},
      {"mqtts", "mqtt", true, 8883}, {"nats", "nats", false, 4222}, {"tls", "nats", true, 4222},
      {"amqp", "amqp", false, 5672}, {"amqps", "amqp", true, 5671}};
  const std::string_view scheme = text.substr(0, sep);
  const Scheme* known = nullptr;
  for (const auto& k : kSchemes)
    if (iequals(scheme, k.name)) known = &k;
  if (!known) {
    why = "unsupported scheme \"" + std::string(scheme) +
          "\" (accepted: http, https, mqtt, mqtts, nats, tls, amqp, amqps)";
    return std::nullopt;
  }
  url.scheme = known->name;
  url.sink = known->sink;
  url.tls = known->tls;
  std::string_view rest = text.substr(sep + 3);
  if (const auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  const auto path_at = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_at);
  std::string_view target = path_at == std::string_view::npos ? "" : rest.substr(path_at);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    // amqp://user@host/vhost is how RabbitMQ users name a broker; the password never belongs
    // in a URL that is printed in reports.
    const std::string_view user = authority.substr(0, at);
    if (url.sink != "amqp") {
      why =
          "user info in the URL is not accepted (credentials: --username with --password-file, "
          "--token-file, or -H 'Authorization: ...' for http)";
      return std::nullopt;
    }
    if (user.find(':') != std::string_view::npos) {
      why = "a password in the URL is not accepted (use --password-file or $LT_PASSWORD)";
      return std::nullopt;
    }
    auto decoded = percent_decode(user);
    if (!decoded || decoded->empty()) {
      why = "the user name in the URL is empty or badly percent-encoded";
      return std::nullopt;
    }
    url.user = *decoded;
    authority = authority.substr(at + 1);
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      why = "unterminated IPv6 address";
      return std::nullopt;
    }
    url.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        why = "unexpected text after the IPv6 address";
        return std::nullopt;
      }
      port_text = after.substr(1);
      if (port_text.empty()) port_text = "-";  // "host:" with no port is an error below
    }
  } else {
    if (authority.find(':') != authority.rfind(':')) {
      why = "an IPv6 address needs brackets: http://[::1]:8080/";
      return std::nullopt;
    }
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) port_text = "-";
    }
  }
  if (url.host.empty()) {
    why = "missing host";
    return std::nullopt;
  }
  url.port = known->port;
  if (!port_text.empty()) {
    unsigned long v = 0;
    const bool digits =
        port_text.size() <= 5 && std::all_of(port_text.begin(), port_text.end(),
                                             [](char c) { return c >= '0' && c <= '9'; });
    if (digits) v = std::stoul(std::string(port_text));
    if (!digits || v < 1 || v > 65535) {
      why = "port must be a number from 1 to 65535";
      return std::nullopt;
    }
    url.port = std::uint16_t(v);
  }
  if (!valid_target(target)) {
    why = "the path may hold visible ASCII only (percent-encode the rest)";
    return std::nullopt;
  }
  url.target = target.empty()          ? "/"
               : target.front() == '?' ? "/" + std::string(target)
                                       : std::string(target);
  return url;
}

}  // namespace lt::http
