#pragma once
// Building AMQP 0-9-1 frames byte by byte and reading them back, for the codec's tests
// (amqp_encode_test.cpp, amqp_parse_test.cpp).
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "amqp/codec.hpp"
#include "byte_strings.hpp"

namespace lt::amqp {

using lt::test::bytes;
using lt::test::hex;

inline std::string be16(std::uint16_t v) {
  return bytes({v >> 8, v & 0xff});
}
inline std::string be32(std::uint32_t v) {
  return be16(std::uint16_t(v >> 16)) + be16(std::uint16_t(v));
}
inline std::string be64(std::uint64_t v) {
  return be32(std::uint32_t(v >> 32)) + be32(std::uint32_t(v));
}
inline std::string shortstr(std::string_view s) {
  return bytes({int(s.size())}) + std::string(s);
}
inline std::string longstr(std::string_view s) {
  return be32(std::uint32_t(s.size())) + std::string(s);
}

// A whole frame around `payload`, built independently of the encoders.
inline std::string frame(int type, std::uint16_t channel, std::string_view payload) {
  return bytes({type}) + be16(channel) + be32(std::uint32_t(payload.size())) +
         std::string(payload) + bytes({0xCE});
}
inline std::string method_frame(std::uint16_t channel, std::uint32_t id, std::string_view args) {
  return frame(1, channel, be32(id) + std::string(args));
}

struct Seen {
  FrameType type;
  std::uint16_t channel;
  std::string payload;
  bool operator==(const Seen&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const Seen& s) {
  return os << "{type " << int(s.type) << " channel " << s.channel << " payload " << hex(s.payload)
            << "}";
}

// Feeds `stream` cut at `cuts` (ascending offsets); false when the reader refused it.
inline bool feed_cut(FrameReader& r, std::string_view stream, const std::vector<std::size_t>& cuts,
                     std::vector<Seen>& seen) {
  std::size_t at = 0;
  auto keep = [&](const Frame& f) {
    seen.push_back({f.type, f.channel, std::string(f.payload)});
    return true;
  };
  for (std::size_t cut : cuts) {
    if (!r.feed(stream.data() + at, cut - at, keep)) return false;
    at = cut;
  }
  return r.feed(stream.data() + at, stream.size() - at, keep);
}

// Feeds `stream` in pieces of `step` bytes (0 = all at once).
inline bool feed_steps(FrameReader& r, std::string_view stream, std::size_t step,
                       std::vector<Seen>& seen) {
  std::vector<std::size_t> cuts;
  for (std::size_t at = step; step != 0 && at < stream.size(); at += step) cuts.push_back(at);
  return feed_cut(r, stream, cuts, seen);
}

// The frames of a stream that must be wholly well-formed.
inline std::vector<Seen> read_all(std::string_view stream, std::uint32_t frame_max = 128 * 1024) {
  FrameReader r(frame_max);
  std::vector<Seen> seen;
  EXPECT_TRUE(feed_cut(r, stream, {}, seen)) << r.error();
  return seen;
}

// The single method frame `out` holds, checked to be one whole frame on `channel` with `id`;
// returns its arguments.
inline std::string only_method(const std::string& out, std::uint16_t channel, std::uint32_t id) {
  const std::vector<Seen> seen = read_all(out);
  EXPECT_EQ(seen.size(), 1u);
  if (seen.size() != 1) return {};
  EXPECT_EQ(seen[0].type, FrameType::Method);
  EXPECT_EQ(seen[0].channel, channel);
  std::string why;
  const auto m = parse_method(seen[0].payload, why);
  EXPECT_TRUE(m) << why;
  if (!m) return {};
  EXPECT_EQ(m->id, id) << method_name(m->id);
  return std::string(m->args);
}

// A field table as the encoder writes them: 'S' long strings, 't' booleans, 'F' nested tables.
struct Table {
  std::map<std::string, std::string> text;
  std::map<std::string, bool> flags;
  std::map<std::string, Table> tables;
};

// Reads big-endian fields off the front of `s`; `ok` turns false at the first short read.
struct Reader {
  std::string_view s;
  bool ok = true;
  std::string_view take(std::size_t n) {
    if (!ok || s.size() < n) {
      ok = false;
      return {};
    }
    const std::string_view v = s.substr(0, n);
    s.remove_prefix(n);
    return v;
  }
  std::uint64_t uint(std::size_t n) {
    std::uint64_t v = 0;
    for (unsigned char c : take(n)) v = v << 8 | c;
    return v;
  }
  std::string_view short_string() { return take(uint(1)); }
  std::string_view long_string() { return take(uint(4)); }
  // A table: its length field must cover exactly its entries.
  Table table() {
    Table t;
    Reader in{long_string()};
    while (ok && in.ok && !in.s.empty()) {
      const std::string key(in.short_string());
      switch (in.uint(1)) {
        case 'S':
          t.text[key] = std::string(in.long_string());
          break;
        case 't':
          t.flags[key] = in.uint(1) != 0;
          break;
        case 'F':
          t.tables[key] = in.table();
          break;
        default:
          in.ok = false;
      }
    }
    ok = ok && in.ok;
    return t;
  }
};

// A broker's connection.start server-properties table (a text, a nested table, a flag).
inline const std::string kServerProperties =
    shortstr("product") + "S" + longstr("RabbitMQ") + shortstr("capabilities") + "F" +
    longstr(shortstr("publisher_confirms") + "t" + bytes({1}));

}  // namespace lt::amqp
