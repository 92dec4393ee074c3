#pragma once
// Feeds an HTTP parser a byte stream cut at random points, calling on_done after each message
// it completes: both parsers must find every message's end wherever the reads split it.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

namespace lt::http::test {

template <typename Parser, typename OnDone>
void feed_in_random_pieces(Parser& p, const std::string& all, std::size_t max_piece,
                           std::mt19937& rng, OnDone on_done) {
  std::size_t at = 0;
  while (at < all.size()) {
    const std::size_t n = std::min<std::size_t>(1 + rng() % max_piece, all.size() - at);
    std::size_t used = 0;
    while (used < n) {
      typename Parser::Result r;
      used += p.feed(all.data() + at + used, n - used, r);
      ASSERT_NE(r, Parser::Result::Error) << p.error();
      if (r == Parser::Result::Done) on_done();
    }
    at += n;
  }
}

}  // namespace lt::http::test
