#include "metrics/hdr_log.hpp"

#include <cinttypes>
#include <ctime>
#include <string_view>

namespace lt {

namespace {

// `value / unit` rounded to three decimals, formatted without printf's %f so the output does
// not depend on the process locale (a ',' decimal point would break the CSV columns).
std::string fixed3(std::int64_t value, std::int64_t unit) {
  const auto thousandth = static_cast<std::uint64_t>(unit / 1000);
  const bool negative = value < 0;
  const std::uint64_t magnitude =
      negative ? ~static_cast<std::uint64_t>(value) + 1 : static_cast<std::uint64_t>(value);
  const std::uint64_t q = magnitude / thousandth + (magnitude % thousandth >= (thousandth + 1) / 2);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%" PRIu64 ".%03" PRIu64, negative && q != 0 ? "-" : "",
                q / 1000, q % 1000);
  return buf;
}

// Java's reader takes everything between "Tag=" and the first ',' as the tag.
std::string sanitize_tag(const std::string& tag) {
  std::string out = tag;
  for (char& c : out) {
    if (c == ',' || static_cast<unsigned char>(c) <= ' ' || c == 0x7f) c = '_';
  }
  return out;
}

}  // namespace

void HdrLogWriter::write_header(Nanos start_unix_ns, const std::string& comment) {
  if (out_ == nullptr) return;
  std::string_view rest = comment;
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    const auto line = rest.substr(0, nl);
    if (!line.empty()) std::fprintf(out_, "#%.*s\n", static_cast<int>(line.size()), line.data());
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  }
  const std::string start = fixed3(start_unix_ns, kSecond);
  const std::time_t secs = static_cast<std::time_t>(start_unix_ns / kSecond);
  std::tm tm{};
  char date[64] = "";
  if (gmtime_r(&secs, &tm) != nullptr) {
    std::strftime(date, sizeof date, "%a %b %d %H:%M:%S UTC %Y", &tm);  // like Java's Date
  }
  std::fprintf(out_, "#[Histogram log format version 1.3]\n");
  std::fprintf(out_, "#[StartTime: %s (seconds since epoch), %s]\n", start.c_str(), date);
  // Interval timestamps are offsets from the start; an explicit BaseTime tells readers so
  // instead of leaving them to guess from the size of the first timestamp.
  std::fprintf(out_, "#[BaseTime: %s (seconds since epoch)]\n", start.c_str());
  std::fputs(
      "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
      "\"Interval_Compressed_Histogram\"\n",
      out_);
  std::fflush(out_);
}

void HdrLogWriter::write_interval(const std::string& tag, Nanos start_offset, Nanos length,
                                  const HdrHistogram& h) {
  if (out_ == nullptr) return;
  std::string line;
  if (!tag.empty()) line = "Tag=" + sanitize_tag(tag) + ",";
  line += fixed3(start_offset, kSecond) + "," + fixed3(length, kSecond) + "," +
          fixed3(h.max(), kMilli) + "," + h.encode_base64() + "\n";
  std::fputs(line.c_str(), out_);
  // Flushed per interval so a killed run still leaves a readable log up to its last second.
  std::fflush(out_);
}

}  // namespace lt
