#pragma once
// What the fuzz targets share: how an input is cut into reads, and a check that aborts (which
// libFuzzer records as a crash, with the input that caused it).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#define LT_FUZZ_CHECK(cond)                                                         \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

namespace lt::fuzz {

// A stream and the offsets at which its reads end. The input's first byte says how many of the
// next bytes (0 to 7) are piece sizes (each byte + 1), used in turn until the stream ends; the
// rest is the stream. No piece sizes means one byte a read, the harshest split.
struct Split {
  std::string_view stream;
  std::vector<std::size_t> cuts;  // ascending, each inside (0, stream.size())
};

inline Split split_input(const std::uint8_t* data, std::size_t size) {
  Split s;
  if (size == 0) return s;
  const std::size_t n = std::min<std::size_t>(data[0] % 8, size - 1);
  const std::uint8_t* sizes = data + 1;
  s.stream = std::string_view(reinterpret_cast<const char*>(data + 1 + n), size - 1 - n);
  for (std::size_t at = 0, k = 0;;) {
    at += n == 0 ? 1 : 1 + std::size_t(sizes[k++ % n]);
    if (at >= s.stream.size()) break;
    s.cuts.push_back(at);
  }
  return s;
}

// Calls read(const char*, std::size_t) on each piece of `stream`, in order.
template <typename Read>
void for_each_piece(std::string_view stream, const std::vector<std::size_t>& cuts, Read read) {
  std::size_t at = 0;
  for (std::size_t cut : cuts) {
    read(stream.data() + at, cut - at);
    at = cut;
  }
  read(stream.data() + at, stream.size() - at);
}

}  // namespace lt::fuzz
