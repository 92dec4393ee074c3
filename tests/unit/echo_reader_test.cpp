#include "sinks/echo_reader.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace lt {
namespace {

std::string frame(std::uint32_t length, std::uint32_t device, std::uint64_t seq) {
  std::string f(length, 'x');
  write_wire_header(reinterpret_cast<unsigned char*>(f.data()),
                    WireHeader{length, device, seq, Nanos(seq) * 1000, Nanos(seq) * 1000 + 7});
  return f;
}

const unsigned char* bytes(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::vector<std::uint64_t> seqs(const std::vector<WireHeader>& replies) {
  std::vector<std::uint64_t> out;
  for (const WireHeader& h : replies) out.push_back(h.seq);
  return out;
}

// Feeds `stream` cut at `cuts`, returning the seqs of all replies; `ok` is the last verdict.
std::vector<std::uint64_t> feed(EchoReader& reader, const std::string& stream,
                                std::initializer_list<std::size_t> cuts, bool& ok) {
  std::vector<WireHeader> replies;
  std::vector<std::uint64_t> all;
  std::size_t at = 0;
  for (std::size_t end : cuts) {
    ok = reader.feed(bytes(stream) + at, end - at, replies);
    for (std::uint64_t s : seqs(replies)) all.push_back(s);
    at = end;
  }
  ok = reader.feed(bytes(stream) + at, stream.size() - at, replies);
  for (std::uint64_t s : seqs(replies)) all.push_back(s);
  return all;
}

TEST(EchoReader, WholeFramesInOneRead) {
  const std::string s = frame(64, 3, 1) + frame(32, 3, 2) + frame(100, 3, 3);
  std::vector<WireHeader> replies;
  const EchoScan scan = read_echo_replies(bytes(s), s.size(), replies);
  EXPECT_EQ(scan.consumed, s.size());
  EXPECT_FALSE(scan.malformed);
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0].length, 64u);
  EXPECT_EQ(replies[0].device, 3u);
  EXPECT_EQ(replies[2].intended, 3000);
  EXPECT_EQ(replies[2].sent, 3007);

  EchoReader reader;
  bool ok = false;
  EXPECT_EQ(feed(reader, s, {}, ok), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_TRUE(ok);
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(EchoReader, FrameCutInItsHeader) {
  const std::string s = frame(64, 1, 1) + frame(64, 1, 2);
  std::vector<WireHeader> replies;
  const EchoScan scan = read_echo_replies(bytes(s), 64 + 10, replies);
  EXPECT_EQ(scan.consumed, 64u);  // the unfinished header is left for the next read
  EXPECT_FALSE(scan.malformed);
  EXPECT_EQ(seqs(replies), std::vector<std::uint64_t>{1});

  EchoReader reader;
  ASSERT_TRUE(reader.feed(bytes(s), 64 + 10, replies));
  EXPECT_EQ(seqs(replies), std::vector<std::uint64_t>{1});
  EXPECT_EQ(reader.buffered(), 10u);
  ASSERT_TRUE(reader.feed(bytes(s) + 74, s.size() - 74, replies));
  EXPECT_EQ(seqs(replies), std::vector<std::uint64_t>{2});
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(EchoReader, FrameCutInItsPayload) {
  const std::string s = frame(48, 2, 5) + frame(200, 2, 6) + frame(32, 2, 7);
  EchoReader reader;
  bool ok = false;
  // The second frame arrives in three reads, the last of which also carries the third.
  EXPECT_EQ(feed(reader, s, {48 + 40, 48 + 150}, ok), (std::vector<std::uint64_t>{5, 6, 7}));
  EXPECT_TRUE(ok);
  EXPECT_EQ(reader.buffered(), 0u);

  std::vector<WireHeader> replies;
  ASSERT_TRUE(reader.feed(bytes(s) + 48, 100, replies));
  EXPECT_TRUE(replies.empty());
  EXPECT_EQ(reader.buffered(), 100u);
}

TEST(EchoReader, ImpossibleLengthIsMalformedUntilCleared) {
  const std::string garbage = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
  const std::string s = frame(40, 1, 1) + garbage;
  std::vector<WireHeader> replies;
  const EchoScan scan = read_echo_replies(bytes(s), s.size(), replies);
  EXPECT_TRUE(scan.malformed);
  EXPECT_EQ(scan.consumed, 40u);
  EXPECT_EQ(seqs(replies), std::vector<std::uint64_t>{1});

  EchoReader reader;
  bool ok = true;
  // The frame before the garbage still counts; then nothing does.
  EXPECT_EQ(feed(reader, s, {20, 50}, ok), std::vector<std::uint64_t>{1});
  EXPECT_FALSE(ok);
  EXPECT_TRUE(reader.malformed());
  const std::string good = frame(32, 1, 2);
  EXPECT_FALSE(reader.feed(bytes(good), good.size(), replies));
  EXPECT_TRUE(replies.empty());

  reader.clear();
  EXPECT_TRUE(reader.feed(bytes(good), good.size(), replies));
  EXPECT_EQ(seqs(replies), std::vector<std::uint64_t>{2});
}

TEST(EchoReader, LengthsAtTheLimits) {
  std::string s = frame(32, 1, 1);
  write_wire_header(reinterpret_cast<unsigned char*>(s.data()),
                    WireHeader{kMaxWireMessage + 1, 1, 1, 0, 0});
  std::vector<WireHeader> replies;
  EXPECT_TRUE(read_echo_replies(bytes(s), s.size(), replies).malformed);

  // The largest frame is waited for, not refused; a header cut short is not judged yet.
  write_wire_header(reinterpret_cast<unsigned char*>(s.data()),
                    WireHeader{kMaxWireMessage, 1, 1, 0, 0});
  EchoScan scan = read_echo_replies(bytes(s), s.size(), replies);
  EXPECT_FALSE(scan.malformed);
  EXPECT_EQ(scan.consumed, 0u);
  const std::string short_length(31, '\0');  // a length of 0, but only 31 bytes so far
  scan = read_echo_replies(bytes(short_length), short_length.size(), replies);
  EXPECT_FALSE(scan.malformed);
  EXPECT_EQ(scan.consumed, 0u);
  EXPECT_TRUE(replies.empty());
}

}  // namespace
}  // namespace lt
