#pragma once
// Parses a target URL: scheme://host[:port][/path][?query] for the schemes of our sinks (http,
// https, mqtt, mqtts, nats, tls, amqp, amqps). Only what a load target needs; user info is
// refused (credentials belong in files or the environment, not in a URL that is printed in
// reports) except an amqp user name without a password, and the fragment is dropped as a
// browser would.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lt::http {

struct Url {
  std::string scheme;  // lower case
  std::string sink;    // the sink the scheme names: "http", "mqtt"
  bool tls = false;
  std::string host;  // without brackets for IPv6
  std::uint16_t port = 0;
  std::string target;  // request-target: path and query, at least "/"
  std::string user;    // amqp: the user name before '@', percent-decoded
};

// %XX escapes decoded; nullopt for a '%' not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view s);

// On failure returns nullopt and sets `why` to a short reason ("missing host", ...).
std::optional<Url> parse_url(std::string_view text, std::string& why);

}  // namespace lt::http
