#include "cli/flags.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace lt {

namespace {
constexpr Nanos kHour = 3600 * kSecond;
}  // namespace

std::string format_exact(Nanos ns) {
  constexpr std::pair<Nanos, const char*> units[] = {
      {kHour, "h"}, {60 * kSecond, "m"}, {kSecond, "s"}, {kMilli, "ms"}, {kMicro, "us"}};
  if (ns == 0) return "0s";
  for (auto [size, name] : units)
    if (ns % size == 0) return fmt::format("{}{}", ns / size, name);
  return fmt::format("{}ns", ns);
}

std::string format_exact(Rate r) {
  if (r.den == 1) return fmt::to_string(r.num);
  if (kSecond % Nanos(r.den) != 0) return fmt::format("{}/{}", r.num, r.den);
  std::string frac = fmt::format("{:09}", (r.num % r.den) * (std::uint64_t(kSecond) / r.den));
  frac.erase(frac.find_last_not_of('0') + 1);
  return fmt::format("{}.{}", r.num / r.den, frac);
}

std::string shell_word(const std::string& flag) {
  if (flag.find_first_of(" \t'\"\\$`!*?;&|<>(){}[]#~") == std::string::npos) return flag;
  std::string out = "'";
  for (char c : flag) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

bool read_text_file(const std::string& path, std::string& out, std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = std::strerror(errno);
    return false;
  }
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) {
    why = "read error";
    return false;
  }
  out = s.str();
  return true;
}

}  // namespace lt
