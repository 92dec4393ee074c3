// Fuzzes the tcp sink's reader of echoed frames (src/sinks/echo_reader.hpp). Read whole, a stream
// yields the headers at the offsets its frames' lengths lead to, from its start, never past its
// end; it stops at an unfinished frame or at an impossible header (malformed), and a prefix of it
// reads as a prefix of that. An EchoReader fed the stream in one read, cut in two at a point
// taken from the input, or cut as the split says, reports the same frames and verdict and keeps
// exactly the unread rest; once malformed it reads nothing more until cleared. Frames written by
// write_wire_header (lengths, devices, seqs and times from the stream) read back equal in any
// split, ending whole, unfinished or at an impossible length. Input: the split (harness.hpp),
// then the stream.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "harness.hpp"
#include "sinks/echo_reader.hpp"
#include "sinks/wire_header.hpp"

namespace {

using lt::kWireHeaderSize;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

struct Frame {
  std::uint32_t length, device;
  std::uint64_t seq;
  lt::Nanos intended, sent;
  bool operator==(const Frame&) const = default;
};

Frame frame(const lt::WireHeader& h) {
  return {h.length, h.device, h.seq, h.intended, h.sent};
}

struct Outcome {
  std::vector<Frame> frames;
  bool malformed = false;
  std::size_t rest = 0;  // bytes after the last frame; 0 once malformed (nothing is kept)
  bool operator==(const Outcome&) const = default;
};

bool possible(std::uint32_t length) {
  return length >= kWireHeaderSize && length <= lt::kMaxWireMessage;
}

Outcome scan(std::string_view s) {
  std::vector<lt::WireHeader> replies;
  const lt::EchoScan scan = lt::read_echo_replies(bytes(s), s.size(), replies);
  LT_FUZZ_CHECK(scan.consumed <= s.size());
  Outcome out;
  std::size_t off = 0;
  for (const lt::WireHeader& h : replies) {
    LT_FUZZ_CHECK(s.size() - off >= kWireHeaderSize);
    const auto at = lt::read_wire_header(bytes(s) + off);
    LT_FUZZ_CHECK(at && frame(*at) == frame(h) && possible(h.length));
    LT_FUZZ_CHECK(h.length <= s.size() - off);
    off += h.length;
    out.frames.push_back(frame(h));
  }
  LT_FUZZ_CHECK(off == scan.consumed);
  const std::size_t rest = s.size() - off;
  if (rest >= kWireHeaderSize) {
    const std::uint32_t length = lt::wire_length(bytes(s) + off);
    LT_FUZZ_CHECK(scan.malformed == !possible(length));
    if (!scan.malformed) LT_FUZZ_CHECK(length > rest);
  } else {
    LT_FUZZ_CHECK(!scan.malformed);
  }
  out.malformed = scan.malformed;
  out.rest = scan.malformed ? 0 : rest;
  return out;
}

// A valid frame of the smallest size, for reads after the stream's end.
std::string small_frame() {
  std::string f(kWireHeaderSize, '\0');
  lt::write_wire_header(reinterpret_cast<unsigned char*>(f.data()),
                        lt::WireHeader{std::uint32_t(kWireHeaderSize), 1, 2, 3, 4});
  return f;
}

Outcome feed(std::string_view s, const std::vector<std::size_t>& cuts) {
  lt::EchoReader reader;
  std::vector<lt::WireHeader> replies{lt::WireHeader{}};  // feed must drop what it is handed
  Outcome out;
  std::size_t fed = 0, read = 0;
  lt::fuzz::for_each_piece(s, cuts, [&](const char* p, std::size_t n) {
    const bool was_malformed = reader.malformed();
    const bool ok = reader.feed(reinterpret_cast<const unsigned char*>(p), n, replies);
    fed += n;
    LT_FUZZ_CHECK(ok == !reader.malformed());
    if (was_malformed) LT_FUZZ_CHECK(!ok && replies.empty());
    for (const lt::WireHeader& h : replies) {
      LT_FUZZ_CHECK(possible(h.length));
      read += h.length;
      out.frames.push_back(frame(h));
    }
    LT_FUZZ_CHECK(read <= fed);
    LT_FUZZ_CHECK(reader.buffered() == (ok ? fed - read : 0));
  });
  out.malformed = reader.malformed();
  out.rest = reader.buffered();

  const std::string more = small_frame();
  if (out.malformed) {
    LT_FUZZ_CHECK(!reader.feed(bytes(more), more.size(), replies) && replies.empty());
    LT_FUZZ_CHECK(reader.malformed() && reader.buffered() == 0);
  }
  // A new connection starts from nothing, whatever the old one left.
  reader.clear();
  LT_FUZZ_CHECK(!reader.malformed() && reader.buffered() == 0);
  LT_FUZZ_CHECK(reader.feed(bytes(more), more.size(), replies) && replies.size() == 1);
  LT_FUZZ_CHECK(frame(replies[0]) == frame(*lt::read_wire_header(bytes(more))));
  return out;
}

// The split's piece sizes, used in turn over a stream of another size (with no cuts, the whole
// stream is one piece of its own size).
std::vector<std::size_t> repeat_cuts(const lt::fuzz::Split& in, std::size_t size) {
  std::vector<std::size_t> pieces;
  std::size_t prev = 0;
  for (std::size_t c : in.cuts) {
    pieces.push_back(c - prev);
    prev = c;
  }
  if (pieces.empty()) pieces.push_back(std::max<std::size_t>(1, in.stream.size()));
  std::vector<std::size_t> cuts;
  for (std::size_t at = 0, k = 0;;) {
    at += pieces[k++ % pieces.size()];
    if (at >= size) break;
    cuts.push_back(at);
  }
  return cuts;
}

void check_stream(const lt::fuzz::Split& in, std::size_t point) {
  const std::string_view s = in.stream;
  const Outcome whole = scan(s);
  LT_FUZZ_CHECK(feed(s, {}) == whole);
  LT_FUZZ_CHECK(feed(s, in.cuts) == whole);
  // At 0 or at the end, one of the two reads is empty, which must change nothing.
  const std::size_t at = point % (s.size() + 1);
  LT_FUZZ_CHECK(feed(s, {at}) == whole);

  const Outcome head = scan(s.substr(0, at));
  LT_FUZZ_CHECK(head.frames.size() <= whole.frames.size());
  LT_FUZZ_CHECK(std::equal(head.frames.begin(), head.frames.end(), whole.frames.begin()));
  if (head.malformed) LT_FUZZ_CHECK(whole.malformed && head.frames == whole.frames);
}

// Frames from write_wire_header, one per 25 bytes of the stream: a size byte, then device, seq,
// intended and sent. The last group's size byte also says how the stream ends.
void check_written(const lt::fuzz::Split& in, std::size_t point) {
  constexpr std::size_t kGroup = 25, kMaxStream = 16u << 10;
  const std::string_view s = in.stream;
  std::string out;
  std::vector<Frame> want;
  std::size_t rest = 0;
  bool malformed = false;
  for (std::size_t at = 0; at + kGroup <= s.size() && out.size() < kMaxStream; at += kGroup) {
    const unsigned char* v = bytes(s) + at;
    // Mostly small frames; a few of some KiB, which pieces of at most 256 bytes cut many times.
    std::uint32_t length = std::uint32_t(kWireHeaderSize) + v[0];
    if (v[0] >= 0xf8) length += std::uint32_t(v[0] - 0xf7) << 10;
    lt::WireHeader h{length, 0, 0, 0, 0};
    std::memcpy(&h.device, v + 1, 4);
    std::memcpy(&h.seq, v + 5, 8);
    std::memcpy(&h.intended, v + 13, 8);
    std::memcpy(&h.sent, v + 21, 4);
    const bool last = at + 2 * kGroup > s.size() || out.size() + length >= kMaxStream;
    const unsigned ending = last ? v[0] % 3 : 0;
    if (ending == 2) h.length = v[1] % 2 ? v[2] % kWireHeaderSize : lt::kMaxWireMessage + v[2] + 1;
    const std::size_t begin = out.size();
    out.resize(begin + std::max<std::size_t>(length, kWireHeaderSize), char(v[3]));
    lt::write_wire_header(reinterpret_cast<unsigned char*>(out.data() + begin), h);
    if (ending == 0) {
      want.push_back(frame(h));
    } else if (ending == 1) {
      rest = h.seq % length;  // unfinished: cut anywhere, even inside the header
      out.resize(begin + rest);
    } else {
      malformed = true;
    }
    if (ending != 0) break;
  }
  const Outcome expected{want, malformed, rest};
  LT_FUZZ_CHECK(scan(out) == expected);
  LT_FUZZ_CHECK(feed(out, {}) == expected);
  LT_FUZZ_CHECK(feed(out, repeat_cuts(in, out.size())) == expected);
  LT_FUZZ_CHECK(feed(out, {point % (out.size() + 1)}) == expected);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const lt::fuzz::Split in = lt::fuzz::split_input(data, size);
  // Where the stream is cut in two: from the first byte's spare bits and the last byte.
  const std::size_t point = size == 0 ? 0 : (std::size_t(data[0] >> 3) << 8) | data[size - 1];
  check_stream(in, point);
  check_written(in, point);
  return 0;
}
