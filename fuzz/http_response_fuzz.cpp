// Fuzzes lt::http::ResponseParser: any split of a stream of responses must yield the responses
// (status, keep-alive, body bytes, interim count) and the verdict of reading it whole, whichever
// responses answer HEAD requests. Input: a byte saying which responses answer HEAD (bit i for
// response i mod 8; the run is repeated with the bits inverted), then the split (harness.hpp).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "harness.hpp"
#include "http/response_parser.hpp"

namespace {

using lt::http::ResponseParser;
using R = ResponseParser::Result;

struct Seen {
  int status;
  bool keep_alive, head;
  std::uint64_t body_bytes;
  std::uint32_t interim;
  bool operator==(const Seen&) const = default;
};

struct Outcome {
  std::vector<Seen> responses;
  std::string error;  // empty unless the parser refused the stream
  bool operator==(const Outcome&) const = default;
};

class Reading {
 public:
  explicit Reading(std::uint8_t head_mask) : head_mask_(head_mask) { begin(); }

  void feed(const char* p, std::size_t n) {
    std::size_t at = 0;
    while (at < n && out_.error.empty()) {
      R r;
      const std::size_t used = parser_.feed(p + at, n - at, r);
      LT_FUZZ_CHECK(used <= n - at);
      at += used;
      begun_ = begun_ || used > 0;
      if (r == R::Done) {
        LT_FUZZ_CHECK(used > 0);
        done();
      } else if (r == R::Error) {
        out_.error = parser_.error();
        LT_FUZZ_CHECK(!out_.error.empty());
      } else {
        LT_FUZZ_CHECK(at == n);  // a response not yet whole consumes all it is given
      }
    }
  }

  // The peer closes after the last byte: a body running until the close ends there.
  Outcome finish() {
    if (out_.error.empty() && begun_) {
      if (parser_.close() == R::Done) {
        done();
      } else {
        out_.error = parser_.error();
        LT_FUZZ_CHECK(!out_.error.empty());
      }
    }
    return out_;
  }

 private:
  void begin() {
    head_ = (head_mask_ >> (out_.responses.size() % 8)) & 1;
    begun_ = false;
    parser_.expect(head_);
  }
  void done() {
    const lt::http::Response& r = parser_.response();
    LT_FUZZ_CHECK(r.status >= 200 && r.status <= 999);
    if (head_ || r.status == 204 || r.status == 304) LT_FUZZ_CHECK(r.body_bytes == 0);
    out_.responses.push_back({r.status, r.keep_alive, head_, r.body_bytes, r.interim});
    begin();
  }

  std::uint8_t head_mask_;
  bool head_ = false, begun_ = false;
  ResponseParser parser_;
  Outcome out_;
};

Outcome read(std::uint8_t head_mask, const lt::fuzz::Split& in, bool whole) {
  Reading reading(head_mask);
  lt::fuzz::for_each_piece(in.stream, whole ? std::vector<std::size_t>{} : in.cuts,
                           [&](const char* p, std::size_t n) { reading.feed(p, n); });
  return reading.finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const lt::fuzz::Split in = lt::fuzz::split_input(data + 1, size - 1);
  for (std::uint8_t mask : {data[0], std::uint8_t(~data[0])}) {
    LT_FUZZ_CHECK(read(mask, in, true) == read(mask, in, false));
  }
  return 0;
}
