// Fuzzes lt::mqtt::Splitter: any split of a stream must yield the packets and the verdict of
// reading it whole; every packet then goes through the parser for its type, as MQTT 3.1.1 and
// as 5.0. Input: a byte choosing the packet size limit, then the split (harness.hpp).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "harness.hpp"
#include "mqtt/codec.hpp"

namespace {

using lt::mqtt::Type;
using lt::mqtt::Version;

struct Seen {
  Type type;
  std::uint8_t flags;
  std::string body;
  bool operator==(const Seen&) const = default;
};

struct Outcome {
  std::vector<Seen> packets;
  bool ok = true;
  std::string error;
  bool operator==(const Outcome&) const = default;
};

Outcome split(std::size_t max_packet, const lt::fuzz::Split& in, bool whole) {
  lt::mqtt::Splitter splitter(max_packet);
  Outcome out;
  auto keep = [&](const lt::mqtt::Packet& p) {
    out.packets.push_back({p.type, p.flags, std::string(p.body)});
    return true;
  };
  lt::fuzz::for_each_piece(in.stream, whole ? std::vector<std::size_t>{} : in.cuts,
                           [&](const char* p, std::size_t n) {
                             const std::size_t before = out.packets.size();
                             const bool fed = splitter.feed(p, n, keep);
                             // Once the stream is refused, every later read is refused unread.
                             if (!out.ok) LT_FUZZ_CHECK(!fed && out.packets.size() == before);
                             out.ok = out.ok && fed;
                           });
  out.error = splitter.error();
  LT_FUZZ_CHECK(out.ok == out.error.empty());
  return out;
}

// A view the parser returned must lie inside the body it was given.
bool inside(std::string_view part, std::string_view body) {
  return part.empty() ||
         (part.data() >= body.data() && part.data() + part.size() <= body.data() + body.size());
}

void parse(Version v, const Seen& s) {
  const std::string_view body = s.body;
  std::string why;
  switch (s.type) {
    case Type::Connack:
      if (const auto c = lt::mqtt::parse_connack(v, body, why)) {
        LT_FUZZ_CHECK(c->receive_maximum != 0 && c->maximum_qos <= 2);
        LT_FUZZ_CHECK(!lt::mqtt::connack_reason(v, c->code).empty());
      }
      break;
    case Type::Puback:
    case Type::Pubrec:
    case Type::Pubrel:
    case Type::Pubcomp:
    case Type::Unsuback:
      if (const auto a = lt::mqtt::parse_ack(v, body, why)) {
        LT_FUZZ_CHECK(a->id != 0 && (v == Version::V5 || a->reason == 0));
        LT_FUZZ_CHECK(!lt::mqtt::reason_name(a->reason).empty());
      }
      break;
    case Type::Suback:
      if (const auto a = lt::mqtt::parse_suback(v, body, why)) {
        LT_FUZZ_CHECK(a->id != 0 && !a->codes.empty() && a->codes.size() <= body.size());
        for (std::uint8_t code : a->codes) LT_FUZZ_CHECK(code <= 2 || code >= 0x80);
      }
      break;
    case Type::Publish:
      if (const auto p = lt::mqtt::parse_publish(v, s.flags, body, why)) {
        LT_FUZZ_CHECK(p->qos <= 2 && (p->qos == 0) == (p->id == 0));
        LT_FUZZ_CHECK(inside(p->topic, body) && inside(p->payload, body));
        LT_FUZZ_CHECK(!p->topic.empty() || v == Version::V5);
      }
      break;
    case Type::Disconnect: {
      const std::uint8_t reason = lt::mqtt::parse_disconnect_reason(v, body);
      LT_FUZZ_CHECK(v == Version::V5 || reason == 0);
      break;
    }
    default:
      return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t max_packet = std::size_t(1) << (data[0] % 21);  // 1 B to 1 MiB
  const lt::fuzz::Split in = lt::fuzz::split_input(data + 1, size - 1);
  const Outcome whole = split(max_packet, in, true);
  LT_FUZZ_CHECK(whole == split(max_packet, in, false));
  for (const Seen& s : whole.packets) {
    LT_FUZZ_CHECK(s.body.size() <= max_packet);
    parse(Version::V311, s);
    parse(Version::V5, s);
  }
  return 0;
}
