#pragma once
// Byte strings for the protocol codec tests (MQTT, AMQP): packets and frames written as the
// spec's byte lists, and compared as hex so a failure shows where the bytes differ.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>

namespace lt::test {

inline std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int v : b) s.push_back(static_cast<char>(v));
  return s;
}

inline std::string hex(std::string_view s) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (!out.empty()) out.push_back(' ');
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

}  // namespace lt::test

#define EXPECT_BYTES(actual, ...) \
  EXPECT_EQ(lt::test::hex(actual), lt::test::hex(lt::test::bytes({__VA_ARGS__})))
