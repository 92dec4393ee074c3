#include "engine/interval_collector.hpp"

namespace lt {

void IntervalCollector::add(std::size_t worker, IntervalReport&& report) {
  reported_up_to_[worker] = std::int64_t(report.index);
  if (report.final) finished_[worker] = true;
  auto it = pending_.find(report.index);
  if (it == pending_.end()) {
    pending_.emplace(report.index, std::move(report));
  } else {
    it->second.data.add(report.data);
    it->second.connected += report.connected;
    it->second.final = it->second.final || report.final;
  }
}

std::optional<IntervalReport> IntervalCollector::next_complete() {
  for (std::size_t w = 0; w < finished_.size(); ++w)
    if (!finished_[w] && reported_up_to_[w] < std::int64_t(next_)) return std::nullopt;
  auto it = pending_.find(next_);
  if (it == pending_.end()) return std::nullopt;
  IntervalReport out = std::move(it->second);
  pending_.erase(it);
  ++next_;
  return out;
}

bool IntervalCollector::all_finished() const {
  for (bool f : finished_)
    if (!f) return false;
  return true;
}

}  // namespace lt
