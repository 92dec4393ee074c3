#pragma once
// Merges the workers' interval reports into whole-run intervals, in order. Interval i is complete
// once every worker has reported it or has finished before reaching it.
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "engine/worker.hpp"

namespace lt {

class IntervalCollector {
 public:
  explicit IntervalCollector(std::size_t workers)
      : reported_up_to_(workers, -1), finished_(workers, false) {}

  void add(std::size_t worker, IntervalReport&& report);
  // The next complete interval in order, if there is one.
  std::optional<IntervalReport> next_complete();
  bool all_finished() const;

 private:
  std::vector<std::int64_t> reported_up_to_;
  std::vector<bool> finished_;
  std::map<std::uint64_t, IntervalReport> pending_;
  std::uint64_t next_ = 0;
};

}  // namespace lt
