#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "metrics/hdr_histogram.hpp"

namespace lt {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Test-side codec helpers, written independently of the code under test so that the tests
// check the wire format rather than the implementation against itself.
const std::string kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string b64(const Bytes& in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    const std::uint32_t w = in[i] << 16 | (i + 1 < in.size() ? in[i + 1] << 8 : 0) |
                            (i + 2 < in.size() ? in[i + 2] : 0);
    for (std::size_t j = 0; j < 4; ++j) {
      out += i + j <= in.size() ? kB64[(w >> (18 - 6 * j)) & 63] : '=';
    }
  }
  return out;
}

Bytes unb64(const std::string& s) {
  Bytes out;
  std::uint32_t w = 0;
  int bits = 0;
  for (char c : s.substr(0, s.find('='))) {
    w = (w << 6) | static_cast<std::uint32_t>(kB64.find(c));
    if ((bits += 6) >= 8) out.push_back(static_cast<std::uint8_t>(w >> (bits -= 8)));
  }
  return out;
}

void put_be(Bytes& out, std::uint64_t v, int n) {
  while (n-- > 0) out.push_back(static_cast<std::uint8_t>(v >> (8 * n)));
}

void put_zz(Bytes& out, std::int64_t s) {
  auto v = (static_cast<std::uint64_t>(s) << 1) ^ static_cast<std::uint64_t>(s >> 63);
  for (int i = 0; i < 8 && v > 0x7f; ++i, v >>= 7) out.push_back((v & 0x7f) | 0x80);
  out.push_back(static_cast<std::uint8_t>(v));  // the ninth byte carries 8 bits
}

Bytes inner(int sig, std::int64_t lowest, std::int64_t highest, const Bytes& payload,
            std::uint32_t cookie = 0x1c849313, std::int64_t payload_len = -1) {
  Bytes b;
  put_be(b, cookie, 4);
  put_be(b, payload_len < 0 ? payload.size() : static_cast<std::uint64_t>(payload_len), 4);
  put_be(b, static_cast<std::uint32_t>(sig), 8);  // normalizing index offset 0, then digits
  put_be(b, static_cast<std::uint64_t>(lowest), 8);
  put_be(b, static_cast<std::uint64_t>(highest), 8);
  put_be(b, 0x3ff0000000000000, 8);  // conversion ratio 1.0
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

std::string outer(const Bytes& in, std::uint32_t cookie = 0x1c849314) {
  uLongf len = compressBound(in.size());
  Bytes z(len);
  EXPECT_EQ(compress2(z.data(), &len, in.data(), in.size(), 9), Z_OK);
  Bytes b;
  put_be(b, std::uint64_t{cookie} << 32 | len, 8);
  b.insert(b.end(), z.begin(), z.begin() + static_cast<std::ptrdiff_t>(len));
  return b64(b);
}

Bytes inflate_inner(const std::string& text) {
  const Bytes raw = unb64(text);
  uLongf len = 1 << 20;
  Bytes out(len);
  EXPECT_EQ(uncompress(out.data(), &len, raw.data() + 8, raw.size() - 8), Z_OK);
  out.resize(len);
  return out;
}

void expect_same(const HdrHistogram& a, const HdrHistogram& b) {
  EXPECT_EQ(std::tuple(a.lowest(), a.highest(), a.significant_figures()),
            std::tuple(b.lowest(), b.highest(), b.significant_figures()));
  ASSERT_EQ(a.counts_length(), b.counts_length());
  for (std::size_t i = 0; i < a.counts_length(); ++i) {
    ASSERT_EQ(a.count_at_index(i), b.count_at_index(i)) << "bucket " << i;
  }
  EXPECT_EQ(std::tuple(a.total_count(), a.min(), a.max()),
            std::tuple(b.total_count(), b.min(), b.max()));
}

HdrHistogram wide_histogram() {
  HdrHistogram h;
  for (std::int64_t v = 1; v < 3'600'000'000'000; v = v * 3 / 2 + 1) {
    h.record_n(v, static_cast<std::uint64_t>(v) * 1'003);
  }
  h.record_n(77, std::uint64_t{1} << 62);
  return h;
}

TEST(HdrEncoding, RoundTripsEmptyOneValueAndWideRange) {
  HdrHistogram one(20, 1000, 3);
  one.record(500);
  HdrHistogram top(1, INT64_MAX, 5);  // the largest layout, both ends used
  top.record(INT64_MAX);
  top.record(0);
  for (const HdrHistogram& h : {HdrHistogram{}, one, wide_histogram(), top}) {
    auto back = HdrHistogram::decode_base64(h.encode_base64());
    ASSERT_TRUE(back);
    expect_same(*back, h);
  }
}

TEST(HdrEncoding, WritesTheJavaV2Layout) {
  HdrHistogram h;
  h.record(42);
  h.record(44);  // bucket 43 is a lone empty bucket
  const std::string text = h.encode_base64();
  EXPECT_EQ(text.rfind("HISTF", 0), 0u);  // how every V2 compressed histogram starts
  const Bytes raw = unb64(text);
  Bytes framing;
  put_be(framing, 0x1c84931400000000u + raw.size() - 8, 8);  // cookie, deflated length
  EXPECT_EQ(Bytes(raw.begin(), raw.begin() + 8), framing);
  // ZigZag counts: -42 (a run of 42 empty buckets), 1, then 0 for a lone empty bucket as Java
  // and hdrhistogram-go write it (HdrHistogram_c writes -1 there), then 1.
  EXPECT_EQ(inflate_inner(text), inner(3, 1, 3'600'000'000'000, {0x53, 0x02, 0x00, 0x02}));
}

// Strings written by public HdrHistogram implementations: hdrhistogram-go's tests, and a
// HdrHistogram 2.1.13 (Java) interval log line quoted in a public JMH plugin's README.
const char* kGo42 = "HISTFAAAAB542pNpmSzMwMDAxAABzFCaEUoz2X+AMIKZAEARAtM=";
const char* kGo42Offset = "HISTFAAAAB94nJNpmSzMwMDABMSMQMzMAAGMUJoJxg9mAgA1TQGm";
const char* kGoEmpty = "HISTFAAAABl4nJNpmSzMgADMUFoEyn1h/wHCAgBDogN4";  // (20, 1000, 3)
const char* kJava =
    "HISTFAAAADR42pNpmSzMwMAgygABTFCaEUz8///f/gNE4LYcUyszkzaTJVMxkzUTNxMTO1MuEwD7aAiy";

TEST(HdrEncoding, DecodesStringsFromPublicImplementations) {
  for (const char* s : {kGo42, kGo42Offset}) {  // the second has a non-zero index offset
    auto h = HdrHistogram::decode_base64(s);
    ASSERT_TRUE(h) << s;
    EXPECT_EQ(h->total_count(), 1u);
    EXPECT_DOUBLE_EQ(h->mean(), 42.0);
    EXPECT_EQ(h->value_at_percentile(50), 42);
  }
  auto empty = HdrHistogram::decode_base64(kGoEmpty);
  ASSERT_TRUE(empty);
  expect_same(*empty, HdrHistogram(20, 1000, 3));
  auto java = HdrHistogram::decode_base64(kJava);
  ASSERT_TRUE(java);
  EXPECT_TRUE(java->same_layout(HdrHistogram(1, 33'554'431, 2)));
  EXPECT_EQ(java->total_count(), 10u);
  EXPECT_EQ(java->max(), 26'083'327);  // the log line's Interval_Max column says 26.083 ms
}

TEST(HdrEncoding, ReencodingJavaOutputGivesTheSamePayload) {
  for (const char* s : {kJava, kGo42}) {
    auto h = HdrHistogram::decode_base64(s);
    ASSERT_TRUE(h);
    EXPECT_EQ(inflate_inner(h->encode_base64()), inflate_inner(s)) << s;
  }
}

TEST(HdrEncoding, RejectsMalformedHeadersAndPayloads) {
  const Bytes one = {0x53, 0x02};
  ASSERT_TRUE(HdrHistogram::decode_base64(outer(inner(3, 1, 1000, one))));  // the control
  const std::string go = kGo42;
  const std::vector<std::string> bad = {
      "",
      "HIST",
      "HISTFAAA",
      go.substr(0, go.size() - 1),
      go + "=",
      go + "AAAA",
      go.substr(0, 20) + "*" + go.substr(21),
      "HIST=AAA",
      outer(inner(3, 1, 1000, one), 0x1c849302),
      outer(inner(3, 1, 1000, one, 0x1c849301)),  // V1
      outer(inner(3, 1, 1000, one, 0x1c849213)),  // wrong inner cookie
      outer(inner(3, 1, 1000, one, 0x1c849313, 3)),
      outer(inner(3, 1, 1000, one, 0x1c849313, 1)),
      outer(inner(3, 1, 1000, one, 0x1c849313, 0xffffffff)),  // payload length wrong or < 0
      outer(inner(6, 1, 1000, one)),
      outer(inner(0, 1, 1000, one)),  // significant figures
      outer(inner(3, 0, 1000, one)),
      outer(inner(3, -5, 1000, one)),  // lowest
      outer(inner(3, 10, 19, one)),
      outer(inner(3, 1, -1, one)),                     // highest < 2 * lowest
      outer(inner(3, INT64_MAX / 2, INT64_MAX, one)),  // unit magnitude too large
      outer(inner(3, 1, 1000, {0x80})),                // truncated varint
      outer({0x1c, 0x84, 0x93, 0x13}),                 // shorter than the inner header
  };
  for (const auto& s : bad) EXPECT_FALSE(HdrHistogram::decode_base64(s)) << s;
  Bytes raw = unb64(outer(inner(3, 1, 1000, one)));
  raw.push_back(0);  // garbage after the zlib stream, inside the declared length
  raw[7] = static_cast<std::uint8_t>(raw.size() - 8);
  EXPECT_FALSE(HdrHistogram::decode_base64(b64(raw)));
}

TEST(HdrEncoding, RejectsCountsThatOverflow) {
  const std::size_t len = HdrHistogram(1, 1000, 3).counts_length();
  const auto n = static_cast<std::int64_t>(len);
  auto with = [](std::initializer_list<std::int64_t> values) {
    Bytes p;
    for (auto v : values) put_zz(p, v);
    return outer(inner(3, 1, 1000, p));
  };
  EXPECT_FALSE(HdrHistogram::decode_base64(with({-n, 1})));   // a count past the last bucket
  EXPECT_FALSE(HdrHistogram::decode_base64(with({-n - 1})));  // a zero run past it
  EXPECT_FALSE(HdrHistogram::decode_base64(with({INT64_MIN})));
  EXPECT_FALSE(HdrHistogram::decode_base64(with({INT64_MAX, INT64_MAX, INT64_MAX})));  // > 2^64
  auto last = HdrHistogram::decode_base64(with({-n + 1, INT64_MAX}));
  ASSERT_TRUE(last);
  EXPECT_EQ(last->count_at_index(len - 1), static_cast<std::uint64_t>(INT64_MAX));
}

TEST(HdrEncoding, RejectsDecompressionBomb) {
  Bytes body(17u << 20, 0);  // a valid header and 17 MiB of zero counts, deflated to ~17 KiB
  const Bytes header = inner(3, 1, 1000, {}, 0x1c849313, static_cast<std::int64_t>(body.size()));
  body.insert(body.begin(), header.begin(), header.end());
  EXPECT_FALSE(HdrHistogram::decode_base64(outer(body)));
}

TEST(HdrEncoding, RejectsEveryTruncationAndBitFlip) {
  const HdrHistogram original = wide_histogram();
  const std::string text = original.encode_base64();
  for (std::size_t n = 0; n < text.size(); ++n) {
    ASSERT_FALSE(HdrHistogram::decode_base64(text.substr(0, n))) << n;
  }
  // A flip is caught by the cookie, the length, zlib's header check or its Adler-32, except
  // where the bit carries no data (the cookie's word-size nibble, which readers ignore, and
  // padding bits of the last deflate byte): those must decode to the very same histogram.
  const Bytes raw = unb64(text);
  std::size_t rejected = 0;
  for (std::size_t bit = 0; bit < raw.size() * 8; ++bit) {
    Bytes m = raw;
    m[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    if (auto h = HdrHistogram::decode_base64(b64(m))) {
      expect_same(*h, original);
    } else {
      ++rejected;
    }
  }
  EXPECT_GE(rejected, raw.size() * 8 - 12);
}

// What a decode that does succeed on mangled input must still satisfy.
void expect_consistent(const HdrHistogram& h) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < h.counts_length(); ++i) sum += h.count_at_index(i);
  ASSERT_EQ(sum, h.total_count());
  ASSERT_LE(h.min(), h.max());
  ASSERT_LE(h.value_at_percentile(50), h.max());
}

// Replaces, inserts, erases or truncates; the same edits serve for text and for bytes.
template <typename Seq, typename Pick>
void mutate(Seq& s, std::mt19937_64& rng, std::size_t min_size, Pick pick) {
  for (int e = 1 + static_cast<int>(rng() % 4); e > 0 && s.size() > min_size; --e) {
    const std::size_t at = rng() % s.size();
    switch (rng() % 4) {
      case 0:
        s[at] = pick();
        break;
      case 1:
        s.insert(s.begin() + at, pick());
        break;
      case 2:
        s.erase(s.begin() + at, s.begin() + std::min(s.size(), at + 1 + rng() % 8));
        break;
      default:
        s.resize(std::max(at, min_size));
        break;
    }
  }
}

TEST(HdrEncoding, SurvivesRandomMutations) {
  std::mt19937_64 rng(2024);
  const std::string texts[] = {wide_histogram().encode_base64(), kJava, kGo42};
  const std::string chars = kB64 + "=\n -_*";
  int decoded = 0;
  for (int iter = 0; iter < 30'000; ++iter) {
    std::string s = texts[iter / 3 % 3];
    Bytes b = unb64(s);
    switch (iter % 3) {
      case 0:  // text edits, garbage characters included
        mutate(s, rng, 0, [&] { return chars[rng() % chars.size()]; });
        break;
      case 1:  // byte edits with the length fixed up get past the framing into zlib
        mutate(b, rng, 8, [&] { return static_cast<std::uint8_t>(rng()); });
        for (int i = 0; i < 4; ++i)
          b[4 + i] = static_cast<std::uint8_t>((b.size() - 8) >> (24 - 8 * i));
        s = b64(b);
        break;
      default: {  // random, mostly small varints behind a valid header reach the count decoder
        Bytes payload(rng() % 64);
        for (auto& c : payload) c = static_cast<std::uint8_t>(rng() % 4 ? rng() % 8 : rng());
        s = outer(inner(1 + static_cast<int>(rng() % 5), 1, 10'000, payload));
      }
    }
    if (auto h = HdrHistogram::decode_base64(s)) {
      expect_consistent(*h);
      ++decoded;
    }
  }
  EXPECT_GT(decoded, 1'000);  // the inputs do get through to the deep paths
}

}  // namespace
}  // namespace lt
