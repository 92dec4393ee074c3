#include "cli/placement.hpp"

#include <charconv>
#include <cstdlib>
#include <ctime>

namespace lt {

namespace {

constexpr std::uint64_t kMaxRanks = 1 << 20;

struct Launcher {
  const char* rank;
  const char* size;  // nullptr: the launcher does not say (a Kubernetes Indexed Job)
};

// In order of precedence: our own variables first, so a user can override what a launcher set.
constexpr Launcher kLaunchers[] = {
    {"LT_RANK", "LT_SIZE"},
    {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},  // Open MPI
    {"PMI_RANK", "PMI_SIZE"},                          // MPICH, Intel MPI
    {"SLURM_PROCID", "SLURM_NTASKS"},                  // srun
    {"JOB_COMPLETION_INDEX", nullptr},                 // Kubernetes Indexed Job
};

std::uint64_t env_number(const char* name, const char* value, std::uint64_t lo, std::uint64_t hi) {
  auto v = parse_count(value);
  if (!v || *v < lo || *v > hi)
    throw UsageError{
        fmt::format("{}: expected a whole number from {} to {}, got \"{}\"", name, lo, hi, value)};
  return *v;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Digits at s[at, at + n) as a number, or -1.
int digits(std::string_view s, std::size_t at, std::size_t n) {
  if (at + n > s.size() || !all_digits(s.substr(at, n))) return -1;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

// The last whole second nanoseconds since 1970 can hold in 64 bits (April 2262).
constexpr Nanos kLastSecond = INT64_MAX / kSecond - 1;

// "SSSS[.fffffffff]" as nanoseconds.
std::optional<Nanos> seconds_with_fraction(std::string_view s) {
  const auto dot = s.find('.');
  const std::string_view whole = s.substr(0, dot);
  if (!all_digits(whole) || whole.size() > 11) return std::nullopt;
  Nanos ns = 0;
  std::from_chars(whole.data(), whole.data() + whole.size(), ns);
  if (ns > kLastSecond) return std::nullopt;
  ns *= kSecond;
  if (dot != std::string_view::npos) {
    const std::string_view frac = s.substr(dot + 1);
    if (!all_digits(frac) || frac.size() > 9) return std::nullopt;
    Nanos f = 0, scale = kSecond;
    for (char c : frac) {
      scale /= 10;
      f += (c - '0') * scale;
    }
    ns += f;
  }
  return ns;
}

std::optional<Nanos> parse_rfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.f...](Z|+HH:MM|-HH:MM); 't', ' ' and 'z' as RFC 3339 allows.
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
    return std::nullopt;
  std::tm tm{};
  const int year = digits(s, 0, 4), mon = digits(s, 5, 2), day = digits(s, 8, 2),
            hour = digits(s, 11, 2), min = digits(s, 14, 2), sec = digits(s, 17, 2);
  if (year < 1970 || mon < 1 || mon > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
      min < 0 || min > 59 || sec < 0 || sec > 60)
    return std::nullopt;
  std::size_t at = 19;
  Nanos frac = 0;
  if (at < s.size() && s[at] == '.') {
    std::size_t end = at + 1;
    while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
    auto f = seconds_with_fraction("0" + std::string(s.substr(at, end - at)));
    if (!f || end == at + 1) return std::nullopt;
    frac = *f;
    at = end;
  }
  Nanos offset = 0;
  const std::string_view zone = s.substr(at);
  if (zone == "Z" || zone == "z") {
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    const int oh = digits(zone, 1, 2), om = digits(zone, 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return std::nullopt;
    offset = (Nanos(oh) * 3600 + om * 60) * kSecond * (zone[0] == '+' ? 1 : -1);
  } else {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  const std::time_t t = timegm(&tm);
  if (tm.tm_mday != day) return std::nullopt;  // timegm normalised an impossible date (Feb 30)
  // Before 1970 (an offset can take a 1970 date there) or past 2262: not a time we can hold.
  const Nanos seconds = Nanos(t) - offset / kSecond;
  if (seconds < 0 || seconds > kLastSecond) return std::nullopt;
  return Nanos(t) * kSecond + frac - offset;
}

}  // namespace

std::optional<Nanos> parse_start_time(std::string_view text) {
  if (auto t = parse_rfc3339(text)) return t;
  return seconds_with_fraction(text);
}

std::string expand_rank(const std::string& path, std::uint32_t rank) {
  std::string out = path;
  for (auto at = out.find("{rank}"); at != std::string::npos; at = out.find("{rank}", at))
    out.replace(at, 6, std::to_string(rank));
  return out;
}

void add_placement_flags(Flags& f) {
  f.value("--rank", "N",
          "this process's rank in a distributed run [from LT_RANK, Open MPI, MPICH/PMI, Slurm or "
          "a Kubernetes Indexed Job; else 0]");
  f.value("--size", "N", "processes in the run, each with the same options [from the launcher; 1]");
  f.value("--start-at", "TIME",
          "connect, then start sending at this wall-clock time: RFC 3339 (2026-11-29T06:00:00Z) "
          "or Unix seconds");
}

void validate_placement(Flags& f, Options& o, const EnvLookup& env) {
  std::optional<std::uint64_t> rank, size;
  std::string from;
  for (const Launcher& l : kLaunchers) {
    const char* r = env(l.rank);
    if (!r || !*r) continue;
    rank = env_number(l.rank, r, 0, kMaxRanks - 1);
    if (l.size) {
      const char* s = env(l.size);
      if (!s || !*s) throw UsageError{fmt::format("{}: set without {}", l.rank, l.size)};
      size = env_number(l.size, s, 1, kMaxRanks);
    } else if (const char* s = env("LT_SIZE"); s && *s) {
      size = env_number("LT_SIZE", s, 1, kMaxRanks);
    }
    from = l.rank;
    break;
  }
  if (f.given("--rank")) {
    std::uint64_t v = 0;
    f.count("--rank", v, 0, kMaxRanks - 1);
    rank = v;
    from = "--rank";
  }
  if (f.given("--size")) {
    std::uint64_t v = 0;
    f.count("--size", v, 1, kMaxRanks);
    size = v;
  }
  if (rank && !size)
    throw UsageError{fmt::format(
        "--size: {} gives the rank but not the size: pass --size N (or set LT_SIZE)", from)};
  if (size && !rank) throw UsageError{"--rank: --size needs a rank: --rank N (or a launcher's)"};
  if (rank) {
    if (*rank >= *size)
      throw UsageError{fmt::format("--rank: expected a rank from 0 to {} (--size {}), got {} ({})",
                                   *size - 1, *size, *rank, from)};
    if (o.devices < *size)
      throw UsageError{fmt::format(
          "--devices: {} device(s) cannot be shared by {} ranks: each rank needs at least one",
          o.devices, *size)};
    o.rank = std::uint32_t(*rank);
    o.size = std::uint32_t(*size);
    o.placement = from;
  }
  if (f.given("--start-at")) {
    auto t = parse_start_time(f.raw("--start-at"));
    if (!t)
      f.fail("--start-at",
             "expected an RFC 3339 time (2026-11-29T06:00:00Z, with an optional fraction and "
             "offset) or Unix seconds (1795928400.5), from 1970 to 2262");
    o.start_at = *t;
  }
  o.json_path = expand_rank(o.json_path, o.rank);
  o.hdr_log_path = expand_rank(o.hdr_log_path, o.rank);
}

std::string describe_placement(const Options& o) {
  std::string s;
  if (o.size > 1) s += fmt::format(" --rank={} --size={}", o.rank, o.size);
  if (o.start_at)
    s += fmt::format(" --start-at={}.{:09}", *o.start_at / kSecond, *o.start_at % kSecond);
  return s;
}

}  // namespace lt
