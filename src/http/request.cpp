#include "http/request.hpp"

#include <fmt/format.h>
#include <strings.h>

namespace lt::http {

std::string build_request(const Options& o) {
  const HttpOptions& h = o.http;
  std::string r = fmt::format("{} {} HTTP/1.1\r\n", h.method, h.target);
  bool host_given = false;
  for (const auto& line : h.headers) host_given |= strncasecmp(line.c_str(), "host:", 5) == 0;
  if (!host_given) {
    const bool v6 = o.hostname.find(':') != std::string::npos;
    const std::uint16_t default_port = o.tls.enabled ? 443 : 80;
    r += fmt::format("Host: {}{}{}{}\r\n", v6 ? "[" : "", o.hostname, v6 ? "]" : "",
                     o.port == default_port ? "" : fmt::format(":{}", o.port));
  }
  for (const auto& line : h.headers) r += line + "\r\n";
  const bool carries_body = h.method == "POST" || h.method == "PUT" || h.method == "PATCH";
  if (!h.body.empty() || carries_body) r += fmt::format("Content-Length: {}\r\n", h.body.size());
  r += "\r\n";
  r += h.body;
  return r;
}

}  // namespace lt::http
