#pragma once
// Helpers of the option tests: parse a command line, get its usage error, split a described
// command line back into words.
#include <string>
#include <vector>

#include "cli/options.hpp"

namespace lt::test {

inline Options parse(std::vector<std::string> args, std::string* text = nullptr) {
  args.insert(args.begin(), "load-tester");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_options(int(argv.size()), argv.data(), text);
}

// The UsageError message for args, or "" when they parse.
inline std::string error_of(std::vector<std::string> args) {
  try {
    parse(std::move(args));
  } catch (const UsageError& e) {
    return e.message;
  }
  return "";
}

// Splits like a POSIX shell does for words, single quotes and backslashes (describe_options()
// quotes a flag only when the shell would otherwise change it).
inline std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::string word;
  bool in_word = false, quoted = false, escaped = false;
  for (char c : line) {
    if (escaped) {
      word += c;
      escaped = false;
    } else if (!quoted && c == '\\') {
      escaped = in_word = true;
    } else if (quoted) {
      if (c == '\'') {
        quoted = false;
      } else {
        word += c;
      }
    } else if (c == '\'') {
      quoted = in_word = true;
    } else if (c == ' ') {
      if (in_word) out.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) out.push_back(word);
  return out;
}

}  // namespace lt::test
