#pragma once
// Writer for the standard HdrHistogram interval log (format 1.3), which HistogramLogProcessor,
// HdrHistogram plotters and hdr-plot read. One tagged line per histogram per interval.
#include <cstdio>
#include <string>

#include "core/time.hpp"
#include "metrics/hdr_histogram.hpp"

namespace lt {

class HdrLogWriter {
 public:
  // Writes to an already open text stream it does not own.
  explicit HdrLogWriter(std::FILE* out) : out_(out) {}
  // Header: format version, StartTime (seconds since epoch), BaseTime, column legend.
  void write_header(Nanos start_unix_ns, const std::string& comment);
  // One interval. `start_offset` is from the log's start; values are ns, written as such
  // (Interval_Max is reported in milliseconds, the max-value unit ratio 1e6 that tools assume).
  void write_interval(const std::string& tag, Nanos start_offset, Nanos length,
                      const HdrHistogram& h);

 private:
  std::FILE* out_;
};

}  // namespace lt
