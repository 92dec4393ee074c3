// HdrHistogram V2 compressed encoding (the form Java, C, Go, Rust and JS write and read) and
// its base64 text form. The decoder treats every byte as hostile: it is fed log files and
// result JSON from elsewhere, and it is fuzzed.
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "metrics/hdr_histogram.hpp"

namespace lt {

namespace {

constexpr std::uint32_t kEncodingCookie = 0x1c849303;
constexpr std::uint32_t kCompressedCookie = 0x1c849304;
// Java and C set the word-size nibble to 1 ("LEB128 counts") and readers ignore that nibble
// when matching, so we write it as they do and ignore it as they do.
constexpr std::uint32_t kWordSizeNibble = 0xf0;
constexpr std::uint32_t kLeb128WordSize = 0x10;
constexpr std::size_t kInnerHeaderSize = 40;
constexpr std::size_t kMaxInflated = std::size_t{16} << 20;
constexpr std::size_t kMaxText = std::size_t{32} << 20;  // > base64 of kMaxInflated stored raw

using Bytes = std::vector<std::uint8_t>;

void put_be(Bytes& out, std::uint64_t v, int bytes) {
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
    out.push_back(static_cast<std::uint8_t>(v >> shift));
  }
}

std::uint64_t get_be(const std::uint8_t* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

// HdrHistogram's ZigZag LEB128: at most 9 bytes, the ninth carrying a full 8 bits.
void put_zigzag(Bytes& out, std::int64_t signed_value) {
  auto v = (static_cast<std::uint64_t>(signed_value) << 1) ^
           static_cast<std::uint64_t>(signed_value >> 63);
  for (int i = 0; i < 8; ++i) {
    if ((v >> 7) == 0) {
      out.push_back(static_cast<std::uint8_t>(v));
      return;
    }
    out.push_back(static_cast<std::uint8_t>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}

bool get_zigzag(const std::uint8_t*& p, const std::uint8_t* end, std::int64_t& out) {
  std::uint64_t v = 0;
  for (int i = 0; i < 9; ++i) {
    if (p == end) return false;
    const std::uint8_t b = *p++;
    if (i == 8) {
      v |= std::uint64_t{b} << 56;
      break;
    }
    v |= std::uint64_t{b & 0x7fu} << (7 * i);
    if ((b & 0x80) == 0) break;
  }
  out = static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1));
  return true;
}

// Walks the counts payload, calling on_count(index, count) for each non-zero bucket; false on a
// truncated varint, a count or zero run past `counts_len`, or a negative count.
template <typename F>
bool walk_counts(const std::uint8_t* p, const std::uint8_t* end, std::size_t counts_len,
                 F&& on_count) {
  std::size_t index = 0;
  while (p < end) {
    std::int64_t v = 0;
    if (!get_zigzag(p, end, v)) return false;
    if (v < 0) {
      if (v == INT64_MIN) return false;
      const auto zeros = static_cast<std::uint64_t>(-v);
      if (zeros > counts_len - index) return false;
      index += static_cast<std::size_t>(zeros);
    } else {
      if (index >= counts_len) return false;
      if (v > 0) on_count(index, static_cast<std::uint64_t>(v));
      ++index;
    }
  }
  return true;
}

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string to_base64(const Bytes& in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < in.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, in.size() - i);
    std::uint32_t w = std::uint32_t{in[i]} << 16;
    if (n > 1) w |= std::uint32_t{in[i + 1]} << 8;
    if (n > 2) w |= in[i + 2];
    out += kAlphabet[(w >> 18) & 63];
    out += kAlphabet[(w >> 12) & 63];
    out += n > 1 ? kAlphabet[(w >> 6) & 63] : '=';
    out += n > 2 ? kAlphabet[w & 63] : '=';
  }
  return out;
}

std::optional<Bytes> from_base64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > kMaxText) return std::nullopt;
  std::array<int, 256> rev;
  rev.fill(-1);
  for (int i = 0; i < 64; ++i) rev[static_cast<unsigned char>(kAlphabet[i])] = i;
  std::size_t pad = 0;
  if (text.back() == '=') pad = text[text.size() - 2] == '=' ? 2 : 1;
  Bytes out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    std::uint32_t w = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const bool is_pad = last && j >= 4 - pad;
      const int d = is_pad ? 0 : rev[static_cast<unsigned char>(text[i + j])];
      if (d < 0) return std::nullopt;  // also rejects '=' anywhere but the end
      w = (w << 6) | static_cast<std::uint32_t>(d);
    }
    const std::size_t n = last ? 3 - pad : 3;
    for (std::size_t j = 0; j < n; ++j) out.push_back(static_cast<std::uint8_t>(w >> (16 - 8 * j)));
  }
  return out;
}

// Inflates a complete zlib stream that must use all of `len` and stay within `cap` bytes.
std::optional<Bytes> inflate_capped(const std::uint8_t* data, std::size_t len, std::size_t cap) {
  z_stream s{};
  if (inflateInit(&s) != Z_OK) return std::nullopt;
  s.next_in = const_cast<Bytef*>(data);
  s.avail_in = static_cast<uInt>(len);
  Bytes out;
  int rc = Z_OK;
  while (rc == Z_OK) {
    const std::size_t used = out.size();
    if (used >= cap) break;
    const std::size_t chunk = std::min<std::size_t>(std::size_t{64} << 10, cap - used);
    out.resize(used + chunk);
    s.next_out = out.data() + used;
    s.avail_out = static_cast<uInt>(chunk);
    rc = inflate(&s, Z_NO_FLUSH);
    out.resize(used + chunk - s.avail_out);
  }
  const bool ok = rc == Z_STREAM_END && s.avail_in == 0;
  inflateEnd(&s);
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace

std::string HdrHistogram::encode_base64() const {
  // Like Java: buckets up to the one holding max (bucket 0 when empty); a lone zero is written
  // as 0 and a run of k > 1 zeros as -k.
  const std::size_t limit = std::min(index_of(total_ == 0 ? 0 : max_) + 1, counts_.size());
  Bytes inner;
  put_be(inner, kEncodingCookie | kLeb128WordSize, 4);
  put_be(inner, 0, 4);  // payload length, patched below
  put_be(inner, 0, 4);  // normalizing index offset: we never shift
  put_be(inner, static_cast<std::uint32_t>(sig_figs_), 4);
  put_be(inner, static_cast<std::uint64_t>(lowest_), 8);
  put_be(inner, static_cast<std::uint64_t>(highest_), 8);
  const double ratio = 1.0;
  std::uint64_t ratio_bits = 0;
  std::memcpy(&ratio_bits, &ratio, sizeof ratio);
  put_be(inner, ratio_bits, 8);
  for (std::size_t i = 0; i < limit;) {
    if (counts_[i] != 0) {
      put_zigzag(inner, static_cast<std::int64_t>(std::min<std::uint64_t>(counts_[i], INT64_MAX)));
      ++i;
      continue;
    }
    std::size_t run = 1;
    while (i + run < limit && counts_[i + run] == 0) ++run;
    put_zigzag(inner, run == 1 ? 0 : -static_cast<std::int64_t>(run));
    i += run;
  }
  const auto payload_len = static_cast<std::uint32_t>(inner.size() - kInnerHeaderSize);
  for (int b = 0; b < 4; ++b) inner[4 + b] = static_cast<std::uint8_t>(payload_len >> (24 - 8 * b));

  uLongf deflated_len = compressBound(static_cast<uLong>(inner.size()));
  Bytes out;
  put_be(out, kCompressedCookie | kLeb128WordSize, 4);
  put_be(out, 0, 4);
  out.resize(8 + deflated_len);
  if (compress2(out.data() + 8, &deflated_len, inner.data(), static_cast<uLong>(inner.size()),
                Z_DEFAULT_COMPRESSION) != Z_OK) {
    return {};  // only on allocation failure inside zlib
  }
  out.resize(8 + deflated_len);
  for (int b = 0; b < 4; ++b) out[4 + b] = static_cast<std::uint8_t>(deflated_len >> (24 - 8 * b));
  return to_base64(out);
}

std::optional<HdrHistogram> HdrHistogram::decode_base64(std::string_view text) {
  const auto outer = from_base64(text);
  if (!outer || outer->size() < 8) return std::nullopt;
  const std::uint8_t* o = outer->data();
  if ((get_be(o, 4) & ~kWordSizeNibble) != kCompressedCookie) return std::nullopt;
  if (get_be(o + 4, 4) != outer->size() - 8) return std::nullopt;

  const auto inner = inflate_capped(o + 8, outer->size() - 8, kMaxInflated);
  if (!inner || inner->size() < kInnerHeaderSize) return std::nullopt;
  const std::uint8_t* p = inner->data();
  if ((get_be(p, 4) & ~kWordSizeNibble) != kEncodingCookie) return std::nullopt;
  if (get_be(p + 4, 4) != inner->size() - kInnerHeaderSize) return std::nullopt;
  // The normalizing index offset (p + 8) and the double conversion ratio (p + 32) do not
  // change which bucket a count belongs to in writers' output, so like hdrhistogram-go we
  // ignore them rather than refuse otherwise valid histograms.
  const auto sig = static_cast<std::int32_t>(get_be(p + 12, 4));
  const auto lowest = static_cast<std::int64_t>(get_be(p + 16, 8));
  const auto highest = static_cast<std::int64_t>(get_be(p + 24, 8));
  const std::size_t counts_len = counts_len_for(lowest, highest, sig);
  if (counts_len == 0) return std::nullopt;

  // Validate fully before allocating the (up to ~50 MiB) bucket array for this layout.
  const std::uint8_t* payload = p + kInnerHeaderSize;
  const std::uint8_t* end = p + inner->size();
  std::uint64_t total = 0;
  bool overflow = false;
  if (!walk_counts(payload, end, counts_len,
                   [&](std::size_t, std::uint64_t c) {
                     overflow |= total + c < total;
                     total += c;
                   }) ||
      overflow) {
    return std::nullopt;
  }
  HdrHistogram h(lowest, highest, sig);
  walk_counts(payload, end, counts_len, [&](std::size_t i, std::uint64_t c) { h.counts_[i] = c; });
  if (!h.recompute_from_counts()) return std::nullopt;
  return h;
}

}  // namespace lt
