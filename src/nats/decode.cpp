#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "nats/codec.hpp"

// The NATS decoders: one server operation at the front of the reader's bytes, INFO's JSON, the
// status line of an HMSG header block, and the check of a subject. Every read is bounded by the
// control line or by the sizes it declares; nothing recurses.
namespace lt::nats {

namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

// Removes and returns the field at the front of `s`; empty when only blanks are left. Fields are
// separated by any run of spaces and tabs, as the server's own parser allows.
std::string_view next_field(std::string_view& s) {
  std::size_t begin = 0;
  while (begin < s.size() && is_blank(s[begin])) ++begin;
  std::size_t end = begin;
  while (end < s.size() && !is_blank(s[end])) ++end;
  const std::string_view field = s.substr(begin, end - begin);
  s.remove_prefix(end);
  return field;
}

// Operation names are case-insensitive; `name` is upper case.
bool is_op(std::string_view op, std::string_view name) {
  if (op.size() != name.size()) return false;
  for (std::size_t i = 0; i < op.size(); ++i) {
    char c = op[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != name[i]) return false;
  }
  return true;
}

// Server bytes quoted for an error message, which ends up on a terminal: cut short, with
// non-printing bytes escaped.
std::string quoted(std::string_view s) {
  constexpr std::size_t kShown = 40;
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < kShown; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02X", c);
      out += escaped;
    }
  }
  if (s.size() > kShown) out += "...";
  out += '"';
  return out;
}

// A byte count: decimal digits only that fit in 64 bits. from_chars into an unsigned type takes
// no sign and no blank, and fails on an empty string.
bool parse_count(std::string_view s, std::uint64_t& v) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size();
}

// MSG <subject> <sid> [reply-to] <#bytes>, or HMSG <subject> <sid> [reply-to] <#header bytes>
// <#total bytes>, then the bytes and CRLF: the operation's length once all of it is in
// [body, body + available); 0 before; SIZE_MAX with `error` when malformed. The line is judged
// as soon as it is whole, so a bad size is refused before its payload is waited for.
std::size_t parse_msg(bool with_headers, std::string_view args, const char* body,
                      std::size_t available, std::size_t max_payload, Message& m,
                      std::string& error) {
  const char* name = with_headers ? "HMSG" : "MSG";
  std::array<std::string_view, 5> f;
  std::size_t n = 0;
  for (std::string_view field = next_field(args); !field.empty(); field = next_field(args)) {
    if (n < f.size()) f[n] = field;
    ++n;
  }
  const std::size_t fewest = with_headers ? 4 : 3;
  if (n < fewest || n > fewest + 1) {
    error = std::string("a ") + name + " line with " + std::to_string(n) + " arguments, expected " +
            std::to_string(fewest) + " or " + std::to_string(fewest + 1);
    return SIZE_MAX;
  }
  std::uint64_t total = 0, header = 0;
  for (std::size_t i = n - (with_headers ? 2 : 1); i < n; ++i) {
    std::uint64_t& v = i == n - 1 ? total : header;
    if (!parse_count(f[i], v)) {
      error = std::string("bad ") + name + " size " + quoted(f[i]);
      return SIZE_MAX;
    }
  }
  if (total > max_payload) {
    error = std::string(name) + " payload of " + std::to_string(total) +
            " bytes exceeds the limit " + std::to_string(max_payload);
    return SIZE_MAX;
  }
  if (header > total) {
    error = "HMSG header size " + std::to_string(header) + " exceeds its total size " +
            std::to_string(total);
    return SIZE_MAX;
  }
  // total <= max_payload, a size_t: nothing below overflows.
  if (available < 2 || available - 2 < total) return 0;
  if (body[total] != '\r' || body[total + 1] != '\n') {
    error = std::string("missing CRLF after a ") + name + " payload";
    return SIZE_MAX;
  }
  m.op = Op::Msg;
  m.subject = f[0];
  m.sid = f[1];
  if (n == fewest + 1) m.reply = f[2];
  m.headers = std::string_view(body, header);
  m.payload = std::string_view(body + header, total - header);
  return total + 2;
}

std::nullopt_t refuse(std::string& why, std::string what) {
  why = std::move(what);
  return std::nullopt;
}

using nlohmann::json;

// The optional INFO fields: absent leaves the default, a wrong type refuses the INFO.
bool read_field(const json& j, const char* key, std::string& v, std::string& why) {
  const auto it = j.find(key);
  if (it == j.end()) return true;
  if (!it->is_string()) {
    why = std::string("INFO field \"") + key + "\" is not a string";
    return false;
  }
  v = it->get<std::string>();
  return true;
}

bool read_field(const json& j, const char* key, bool& v, std::string& why) {
  const auto it = j.find(key);
  if (it == j.end()) return true;
  if (!it->is_boolean()) {
    why = std::string("INFO field \"") + key + "\" is not true or false";
    return false;
  }
  v = it->get<bool>();
  return true;
}

bool read_field(const json& j, const char* key, std::int64_t low, std::int64_t high,
                std::int64_t& v, std::string& why) {
  const auto it = j.find(key);
  if (it == j.end()) return true;
  if (!it->is_number_integer()) {
    why = std::string("INFO field \"") + key + "\" is not an integer";
    return false;
  }
  // A large unsigned number must not wrap into range.
  const bool fits = it->is_number_unsigned()
                        ? it->get<std::uint64_t>() <= static_cast<std::uint64_t>(high)
                        : it->get<std::int64_t>() <= high;
  if (!fits || it->get<std::int64_t>() < low) {
    why = std::string("INFO field \"") + key + "\" is out of range: " + it->dump();
    return false;
  }
  v = it->get<std::int64_t>();
  return true;
}

}  // namespace

std::size_t Reader::parse(const char* p, std::size_t size, Message& m) {
  m = Message{};
  const auto* nl =
      size == 0 ? nullptr
                : static_cast<const char*>(std::memchr(p, '\n', std::min(size, kMaxControlLine)));
  if (nl == nullptr) {
    if (size < kMaxControlLine) return 0;
    error_ = "control line longer than " + std::to_string(kMaxControlLine) + " bytes";
    return SIZE_MAX;
  }
  // Servers end lines with CRLF; a bare LF is taken too, as the reference clients take it, since
  // the line's end is not what frames a payload (the sizes are). Payloads must end with CRLF.
  const std::size_t line_size = static_cast<std::size_t>(nl - p) + 1;
  std::string_view line(p, line_size - 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::size_t op_size = 0;
  while (op_size < line.size() && !is_blank(line[op_size])) ++op_size;
  const std::string_view op = line.substr(0, op_size);
  const std::string_view args = line.substr(op_size);

  if (is_op(op, "MSG") || is_op(op, "HMSG")) {
    const std::size_t body =
        parse_msg(op.size() == 4, args, p + line_size, size - line_size, max_payload_, m, error_);
    return body == 0 || body == SIZE_MAX ? body : line_size + body;
  }
  if (is_op(op, "PING") || is_op(op, "PONG") || is_op(op, "+OK")) {
    m.op = is_op(op, "PING") ? Op::Ping : is_op(op, "PONG") ? Op::Pong : Op::Ok;
    if (!trim(args).empty()) {
      const char* name = m.op == Op::Ping ? "PING" : m.op == Op::Pong ? "PONG" : "+OK";
      error_ = std::string(name) + " followed by " + quoted(trim(args));
      return SIZE_MAX;
    }
    return line_size;
  }
  if (is_op(op, "INFO")) {
    m.op = Op::Info;
    m.text = trim(args);
    if (m.text.empty()) {
      error_ = "INFO without its JSON";
      return SIZE_MAX;
    }
    return line_size;
  }
  if (is_op(op, "-ERR")) {
    // -ERR 'text'; a server that leaves out the quotes is still understood.
    m.op = Op::Err;
    m.text = trim(args);
    if (!m.text.empty() && m.text.front() == '\'') m.text.remove_prefix(1);
    if (!m.text.empty() && m.text.back() == '\'') m.text.remove_suffix(1);
    return line_size;
  }
  error_ = op.empty() ? "a control line without an operation" : "unknown operation " + quoted(op);
  return SIZE_MAX;
}

std::optional<Info> parse_info(std::string_view text, std::string& why) {
  const json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) return refuse(why, "INFO is not valid JSON");
  if (!j.is_object()) return refuse(why, "INFO is not a JSON object");
  Info info;
  std::int64_t proto = info.proto;
  const bool ok = read_field(j, "server_id", info.server_id, why) &&
                  read_field(j, "version", info.version, why) &&
                  read_field(j, "max_payload", 1, std::numeric_limits<std::int64_t>::max(),
                             info.max_payload, why) &&
                  read_field(j, "headers", info.headers, why) &&
                  read_field(j, "auth_required", info.auth_required, why) &&
                  read_field(j, "tls_required", info.tls_required, why) &&
                  read_field(j, "tls_available", info.tls_available, why) &&
                  read_field(j, "proto", 0, std::numeric_limits<int>::max(), proto, why);
  if (!ok) return std::nullopt;
  info.proto = static_cast<int>(proto);
  return info;
}

int header_status(std::string_view headers) {
  // "NATS/1.0 503 No Responders\r\n...": the version, blanks, three digits, then the end of the
  // line or a description after a blank.
  constexpr std::string_view kVersion = "NATS/1.0";
  if (headers.substr(0, kVersion.size()) != kVersion) return 0;
  std::string_view rest = headers.substr(kVersion.size());
  if (rest.empty() || !is_blank(rest.front())) return 0;
  while (!rest.empty() && is_blank(rest.front())) rest.remove_prefix(1);
  if (rest.size() < 3) return 0;
  int status = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    if (rest[i] < '0' || rest[i] > '9') return 0;
    status = status * 10 + (rest[i] - '0');
  }
  if (rest.size() > 3 && !is_blank(rest[3]) && rest[3] != '\r' && rest[3] != '\n') return 0;
  return status;
}

std::string check_subject(std::string_view subject, bool wildcards) {
  if (subject.empty() || subject.size() > 65535) return "expected 1 to 65535 bytes";
  for (char ch : subject) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7F) return "a subject cannot hold whitespace or control bytes";
  }
  std::size_t begin = 0;
  for (;;) {
    const std::size_t dot = subject.find('.', begin);
    const std::string_view token = subject.substr(begin, dot - begin);
    const bool last = dot == std::string_view::npos;
    if (token.empty()) return "a subject cannot have an empty token";
    if (token.find_first_of("*>") != std::string_view::npos) {
      // Stricter than the server for publishing, which would take "a*b" as a literal: a subject
      // that looks like a wildcard is almost certainly a mistake in a load test's flags.
      if (!wildcards) return "wildcards '*' and '>' are not allowed in a publish subject";
      if (token != "*" && token != ">") return "wildcards '*' and '>' must be whole tokens";
      if (token == ">" && !last) return "wildcard '>' must be the last token";
    }
    if (last) return "";
    begin = dot + 1;
  }
}

}  // namespace lt::nats
