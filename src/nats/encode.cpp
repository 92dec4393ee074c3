#include <charconv>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "nats/codec.hpp"

// The NATS encoders: what the sink sends (CONNECT, publish heads, SUB, PING, PONG), appended to a
// connection's output buffer.
namespace lt::nats {

namespace {

// Decimal without a temporary string: request heads are written once per message.
void put_decimal(std::string& out, std::uint64_t v) {
  char digits[20];  // UINT64_MAX has 20 digits
  const char* end = std::to_chars(digits, digits + sizeof digits, v).ptr;
  out.append(digits, static_cast<std::size_t>(end - digits));
}

// PUB <subject> [reply] <size>\r\n, or with a header block
// HPUB <subject> [reply] <header size> <total size>\r\n<header block>. The reply subject is
// `reply` followed by `token` in decimal when there is a token.
void put_head(std::string& out, std::string_view subject, std::string_view reply,
              std::optional<std::uint64_t> token, std::string_view header_block,
              std::size_t payload_size) {
  out.append(header_block.empty() ? "PUB " : "HPUB ");
  out.append(subject);
  out.push_back(' ');
  if (!reply.empty() || token) {
    out.append(reply);
    if (token) put_decimal(out, *token);
    out.push_back(' ');
  }
  if (!header_block.empty()) {
    put_decimal(out, header_block.size());
    out.push_back(' ');
    put_decimal(out, header_block.size() + payload_size);
  } else {
    put_decimal(out, payload_size);
  }
  out.append("\r\n");
  out.append(header_block);
}

}  // namespace

void encode_connect(std::string& out, const ConnectParams& p) {
  // The fields in the order the protocol documents them (ordered_json keeps insertion order), so
  // that a captured CONNECT reads like the docs. The library escapes the strings.
  nlohmann::ordered_json j;
  j["verbose"] = false;  // no +OK per publish: it would cost the server and us a line each
  j["pedantic"] = false;
  j["tls_required"] = p.tls_required;
  j["name"] = p.name;
  j["lang"] = "c++";
  j["version"] = "load-tester";
  j["protocol"] = 1;  // dynamic reconfiguration: the server may send further INFO lines
  j["headers"] = p.headers;
  j["no_responders"] = p.no_responders;
  j["echo"] = p.echo;
  if (!p.user.empty()) j["user"] = p.user;
  if (!p.pass.empty()) j["pass"] = p.pass;
  if (!p.token.empty()) j["auth_token"] = p.token;
  out.append("CONNECT ");
  // Invalid UTF-8 (the CLI should have refused it) becomes U+FFFD rather than an exception.
  out.append(j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
  out.append("\r\n");
}

std::string publish_head(std::string_view subject, std::string_view reply,
                         std::string_view header_block, std::size_t payload_size) {
  std::string head;
  head.reserve(5 + subject.size() + 1 + reply.size() + 1 + 2 * 21 + 2 + header_block.size());
  put_head(head, subject, reply, std::nullopt, header_block, payload_size);
  return head;
}

void append_request_head(std::string& out, std::string_view subject, std::string_view inbox_prefix,
                         std::uint64_t token, std::string_view header_block,
                         std::size_t payload_size) {
  put_head(out, subject, inbox_prefix, token, header_block, payload_size);
}

std::string header_block(const std::vector<std::string>& headers) {
  std::size_t size = 10 + 2;
  for (const std::string& h : headers) size += h.size() + 2;
  std::string block;
  block.reserve(size);
  block.append("NATS/1.0\r\n");
  for (const std::string& h : headers) {
    block.append(h);
    block.append("\r\n");
  }
  block.append("\r\n");
  return block;
}

void encode_sub(std::string& out, std::string_view subject, std::string_view queue,
                std::uint64_t sid) {
  out.append("SUB ");
  out.append(subject);
  out.push_back(' ');
  if (!queue.empty()) {
    out.append(queue);
    out.push_back(' ');
  }
  put_decimal(out, sid);
  out.append("\r\n");
}

void encode_ping(std::string& out) {
  out.append("PING\r\n");
}

void encode_pong(std::string& out) {
  out.append("PONG\r\n");
}

}  // namespace lt::nats
