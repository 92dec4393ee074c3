#pragma once
// The interval series of a live run, kept on disk instead of in memory: each interval's JSON
// (with its encoded latency histogram, 4-13 KB) goes to an unnamed temporary file beside the
// result file as it completes, so a day-long run at --update 1s does not grow by hundreds of MB.
// At the end it is copied into the result file as its "intervals" array.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "report/run_result.hpp"

namespace lt {

class IntervalSpool {
 public:
  // The file is made in the directory of `result_path` (O_TMPFILE: it never has a name, so
  // nothing is left behind whatever happens), else by tmpfile().
  explicit IntervalSpool(const std::string& result_path);
  ~IntervalSpool();
  IntervalSpool(const IntervalSpool&) = delete;
  IntervalSpool& operator=(const IntervalSpool&) = delete;

  void add(const IntervalPoint& point);
  // Writes `result` with the spooled series as its "intervals" to `out`; false with `error` when
  // the spool could not be made, written or read back.
  bool write_result(nlohmann::json result, std::FILE* out, std::string& error);

 private:
  std::FILE* file_ = nullptr;
  std::size_t count_ = 0;
  int errno_ = 0;  // the first failure
};

}  // namespace lt
