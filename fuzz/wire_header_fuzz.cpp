// Fuzzes the tcp/udp wire header (src/sinks/wire_header.hpp) and the built-in server's reader of
// wire frames (make_wire_protocol, serve --sink tcp --echo). Every 32 bytes of the stream read
// as a header exactly when their length is possible, and a header read writes back to the same
// bytes; what write_body_header writes for any payload size, device, sequence and intended time
// (from the stream's first bytes) reads back equal, or not at all for an impossible size, and
// touches nothing around it. The server, fed the stream in any split, echoes it byte for byte
// and counts alike; on a stream of frames that the tcp sink's echo reader (read_echo_replies,
// fuzzed itself by echo_reader_fuzz) reads without error, it counts exactly those frames, per
// device, and nothing malformed.
// Input: the split (harness.hpp), then the stream.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "harness.hpp"
#include "serve/stream_protocol.hpp"
#include "sinks/echo_reader.hpp"
#include "sinks/wire_header.hpp"

namespace {

using lt::kWireHeaderSize;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

void check_reads(std::string_view stream) {
  for (std::size_t off = 0; off + kWireHeaderSize <= stream.size(); ++off) {
    const unsigned char* p = bytes(stream) + off;
    const std::uint32_t length = lt::wire_length(p);
    const auto h = lt::read_wire_header(p);
    LT_FUZZ_CHECK(h.has_value() == (length >= kWireHeaderSize && length <= lt::kMaxWireMessage));
    if (!h) continue;
    LT_FUZZ_CHECK(h->length == length);
    unsigned char again[kWireHeaderSize];
    lt::write_wire_header(again, *h);
    LT_FUZZ_CHECK(std::memcmp(again, p, kWireHeaderSize) == 0);
  }
}

void check_write(std::string_view stream) {
  unsigned char v[25] = {};
  if (!stream.empty()) std::memcpy(v, stream.data(), std::min(stream.size(), sizeof v));
  const std::size_t at = v[0] % 8;  // any alignment
  std::uint32_t payload, device;
  std::uint64_t seq;
  lt::Nanos intended;
  std::memcpy(&payload, v + 1, 4);
  std::memcpy(&device, v + 5, 4);
  std::memcpy(&seq, v + 9, 8);
  std::memcpy(&intended, v + 17, 8);
  constexpr char kFill = char(0xa5);
  std::string out(at + kWireHeaderSize + 8, kFill);
  lt::write_body_header(out, at, payload, device, seq, intended);
  for (std::size_t i = 0; i < out.size(); ++i)
    if (i < at || i >= at + kWireHeaderSize) LT_FUZZ_CHECK(out[i] == kFill);
  const auto h = lt::read_wire_header(bytes(out) + at);
  LT_FUZZ_CHECK(h.has_value() == (payload >= kWireHeaderSize && payload <= lt::kMaxWireMessage));
  if (h) {
    LT_FUZZ_CHECK(h->length == payload && h->device == device && h->seq == seq);
    LT_FUZZ_CHECK(h->intended == intended && h->sent == 0);
  }
}

struct Served {
  std::string out;
  std::uint64_t messages = 0, malformed = 0, untracked = 0;
  std::vector<std::uint32_t> per_device;  // without the trailing zeros of its growth
  bool operator==(const Served&) const = default;
};

Served serve(const lt::fuzz::Split& in, bool whole) {
  lt::EchoQueue queue;
  lt::ServerStats stats;
  lt::Faults faults{lt::ServeFaults{}};
  const auto protocol = lt::make_wire_protocol(true);
  lt::fuzz::for_each_piece(
      in.stream, whole ? std::vector<std::size_t>{} : in.cuts, [&](const char* p, std::size_t n) {
        lt::Replies replies(queue, stats, faults, 0, false);
        LT_FUZZ_CHECK(protocol->take(reinterpret_cast<const unsigned char*>(p), n, replies));
      });
  queue.release_all();
  Served s;
  s.out.assign(reinterpret_cast<const char*>(queue.sendable()), queue.sendable_size());
  s.messages = stats.messages;
  s.malformed = stats.malformed;
  s.untracked = stats.untracked_devices;
  s.per_device = std::move(stats.per_device);
  while (!s.per_device.empty() && s.per_device.back() == 0) s.per_device.pop_back();
  return s;
}

void check_server(const lt::fuzz::Split& in) {
  const Served served = serve(in, true);
  LT_FUZZ_CHECK(served.out == in.stream);
  LT_FUZZ_CHECK(serve(in, false) == served);

  // The frames as the tcp sink's echo reader walks them; `clean` when it meets no bad header,
  // including the first 4 bytes (the length) of an unfinished one.
  const std::string_view s = in.stream;
  std::vector<lt::WireHeader> replies;
  const lt::EchoScan scan = lt::read_echo_replies(bytes(s), s.size(), replies);
  const std::size_t off = scan.consumed;
  const std::uint64_t count = replies.size();
  std::map<std::uint32_t, std::uint32_t> frames;
  for (const lt::WireHeader& h : replies) ++frames[h.device];
  bool clean = !scan.malformed;
  if (clean && s.size() - off >= 4 && s.size() - off < kWireHeaderSize) {
    const std::uint32_t length = lt::wire_length(bytes(s) + off);
    clean = length >= kWireHeaderSize && length <= lt::kMaxWireMessage;
  }
  if (!clean) return;
  LT_FUZZ_CHECK(served.messages == count && served.malformed == 0);
  std::uint64_t untracked = 0, tracked = 0;
  for (const auto& [device, n] : frames) {
    if (device >= lt::ServerStats::kTrackedDevices) {
      untracked += n;
      continue;
    }
    LT_FUZZ_CHECK(device < served.per_device.size() && served.per_device[device] == n);
    tracked += n;
  }
  LT_FUZZ_CHECK(served.untracked == untracked);
  std::uint64_t counted = 0;
  for (std::uint32_t n : served.per_device) counted += n;
  LT_FUZZ_CHECK(counted == tracked);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const lt::fuzz::Split in = lt::fuzz::split_input(data, size);
  check_reads(in.stream);
  check_write(in.stream);
  check_server(in);
  return 0;
}
