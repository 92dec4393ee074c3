#include "sinks/seq_window.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

namespace lt {
namespace {

TEST(SeqWindow, InOrderAndRepeats) {
  SeqWindow w;
  EXPECT_TRUE(w.first_copy(0));
  EXPECT_FALSE(w.first_copy(0));
  EXPECT_TRUE(w.first_copy(1));
  EXPECT_TRUE(w.first_copy(5));
  EXPECT_TRUE(w.first_copy(3));  // late, not a duplicate
  EXPECT_FALSE(w.first_copy(3));
  EXPECT_FALSE(w.first_copy(1));
  EXPECT_TRUE(w.first_copy(2));
  EXPECT_TRUE(w.first_copy(4));
  EXPECT_FALSE(w.first_copy(5));
}

TEST(SeqWindow, OlderThanTheWindowCountsAsDuplicate) {
  SeqWindow w;
  EXPECT_TRUE(w.first_copy(SeqWindow::kWindow + 10));
  EXPECT_TRUE(w.first_copy(10));  // exactly kWindow below
  EXPECT_FALSE(w.first_copy(9));  // beyond: never overstate received
  EXPECT_TRUE(w.first_copy(11));
}

// Against a set, over shuffles within a bounded distance and repeats, across word boundaries
// and jumps larger than the window.
TEST(SeqWindow, MatchesASetWithinTheWindow) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::uint64_t> seqs;
    std::uint64_t base = 0;
    for (int i = 0; i < 3000; ++i) {
      if (rng() % 500 == 0) base += 2000;  // a jump past the window
      seqs.push_back(base++);
      if (rng() % 7 == 0) seqs.push_back(seqs[rng() % seqs.size()]);  // a repeat
    }
    // Reorder within blocks of 300, well inside the window.
    for (std::size_t at = 0; at < seqs.size(); at += 300)
      std::shuffle(seqs.begin() + at, seqs.begin() + std::min(seqs.size(), at + 300), rng);
    SeqWindow w;
    std::set<std::uint64_t> seen;
    std::uint64_t highest = 0;
    for (std::uint64_t s : seqs) {
      const bool in_window = seen.empty() || s + SeqWindow::kWindow >= highest;
      const bool expect = !seen.count(s) && in_window;
      ASSERT_EQ(w.first_copy(s), expect) << "round " << round << " seq " << s;
      if (expect) seen.insert(s);
      highest = std::max(highest, s);
    }
  }
}

}  // namespace
}  // namespace lt
