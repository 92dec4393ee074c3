#include "metrics/hdr_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <stdexcept>

namespace lt {

namespace {

struct Layout {
  int unit_magnitude;
  int sub_bucket_count_magnitude;
  int bucket_count;
};

// The HdrHistogram layout rules; nullopt for parameters the reference implementations reject.
std::optional<Layout> layout_for(std::int64_t lowest, std::int64_t highest, int sig_figs) {
  if (lowest < 1 || sig_figs < 1 || sig_figs > 5 || highest / 2 < lowest) return std::nullopt;
  std::int64_t largest_single_unit = 2;
  for (int i = 0; i < sig_figs; ++i) largest_single_unit *= 10;
  Layout l{};
  l.unit_magnitude = 63 - std::countl_zero(static_cast<std::uint64_t>(lowest));
  l.sub_bucket_count_magnitude =
      std::bit_width(static_cast<std::uint64_t>(largest_single_unit - 1));
  // Beyond this the top sub-bucket would not fit in an int64 value.
  if (l.unit_magnitude + l.sub_bucket_count_magnitude - 1 > 61) return std::nullopt;
  std::int64_t smallest_untrackable = std::int64_t{1}
                                      << (l.sub_bucket_count_magnitude + l.unit_magnitude);
  l.bucket_count = 1;
  while (smallest_untrackable <= highest) {
    if (smallest_untrackable > INT64_MAX / 2) {
      ++l.bucket_count;
      break;
    }
    smallest_untrackable <<= 1;
    ++l.bucket_count;
  }
  return l;
}

}  // namespace

std::size_t HdrHistogram::counts_len_for(std::int64_t lowest, std::int64_t highest, int sig_figs) {
  auto l = layout_for(lowest, highest, sig_figs);
  if (!l) return 0;
  return static_cast<std::size_t>(l->bucket_count + 1) << (l->sub_bucket_count_magnitude - 1);
}

HdrHistogram::HdrHistogram(std::int64_t lowest, std::int64_t highest, int significant_figures)
    : lowest_(lowest), highest_(highest), sig_figs_(significant_figures) {
  auto l = layout_for(lowest, highest, significant_figures);
  if (!l) throw std::invalid_argument("HdrHistogram: invalid lowest/highest/significant figures");
  unit_magnitude_ = l->unit_magnitude;
  sub_bucket_half_count_magnitude_ = l->sub_bucket_count_magnitude - 1;
  sub_bucket_count_ = std::int32_t{1} << l->sub_bucket_count_magnitude;
  sub_bucket_half_count_ = sub_bucket_count_ / 2;
  sub_bucket_mask_ = (std::int64_t{sub_bucket_count_} - 1) << unit_magnitude_;
  bucket_count_ = l->bucket_count;
  counts_.assign(counts_len_for(lowest, highest, significant_figures), 0);
}

std::size_t HdrHistogram::index_of(std::int64_t value) const {
  const int pow2ceiling =
      64 - std::countl_zero(static_cast<std::uint64_t>(value | sub_bucket_mask_));
  const int bucket = pow2ceiling - unit_magnitude_ - (sub_bucket_half_count_magnitude_ + 1);
  const auto sub_bucket = static_cast<std::int64_t>(value >> (bucket + unit_magnitude_));
  return (static_cast<std::size_t>(bucket + 1) << sub_bucket_half_count_magnitude_) +
         static_cast<std::size_t>(sub_bucket - sub_bucket_half_count_);
}

std::int64_t HdrHistogram::value_at_index(std::size_t i) const {
  auto bucket = static_cast<std::int64_t>(i >> sub_bucket_half_count_magnitude_) - 1;
  auto sub_bucket = static_cast<std::uint64_t>(i & (sub_bucket_half_count_ - 1)) +
                    static_cast<std::uint64_t>(sub_bucket_half_count_);
  if (bucket < 0) {
    sub_bucket -= sub_bucket_half_count_;
    bucket = 0;
  }
  return static_cast<std::int64_t>(sub_bucket << (bucket + unit_magnitude_));
}

std::int64_t HdrHistogram::range_at_index(std::size_t i) const {
  const auto bucket = std::max<std::int64_t>(
      static_cast<std::int64_t>(i >> sub_bucket_half_count_magnitude_) - 1, 0);
  return std::int64_t{1} << (bucket + unit_magnitude_);
}

// Written as value + (range - 1) because the top bucket of a huge layout ends at INT64_MAX.
std::int64_t HdrHistogram::highest_equivalent_at_index(std::size_t i) const {
  return value_at_index(i) + (range_at_index(i) - 1);
}

void HdrHistogram::record_n(std::int64_t value, std::uint64_t count) {
  if (count == 0) return;
  if (value < 0) value = 0;
  if (value > highest_) {
    value = highest_;
    clamped_ += count;
  }
  counts_[index_of(value)] += count;
  total_ += count;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

bool HdrHistogram::same_layout(const HdrHistogram& other) const {
  // Equal index mapping is what makes bucket-by-bucket addition exact.
  return unit_magnitude_ == other.unit_magnitude_ && sub_bucket_count_ == other.sub_bucket_count_ &&
         counts_.size() == other.counts_.size();
}

bool HdrHistogram::add(const HdrHistogram& other) {
  if (!same_layout(other)) return false;
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  total_ += other.total_;
  clamped_ += other.clamped_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  return true;
}

void HdrHistogram::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_ = clamped_ = 0;
  min_ = INT64_MAX;
  max_ = 0;
}

bool HdrHistogram::recompute_from_counts() {
  total_ = clamped_ = 0;
  min_ = INT64_MAX;
  max_ = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    if (total_ + counts_[i] < total_) return false;
    total_ += counts_[i];
    min_ = std::min(min_, value_at_index(i));
    max_ = value_at_index(i);
  }
  return true;
}

std::int64_t HdrHistogram::min() const {
  return total_ == 0 ? 0 : value_at_index(index_of(min_));
}

std::int64_t HdrHistogram::max() const {
  return total_ == 0 ? 0 : highest_equivalent_at_index(index_of(max_));
}

// Mean and deviation use each bucket's midpoint, as HdrHistogram does.
double HdrHistogram::mean() const {
  if (total_ == 0) return 0.0;
  double sum = 0.0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    const double mid = static_cast<double>(value_at_index(i) + (range_at_index(i) >> 1));
    sum += mid * static_cast<double>(counts_[i]);
  }
  return sum / static_cast<double>(total_);
}

double HdrHistogram::stddev() const {
  if (total_ == 0) return 0.0;
  const double m = mean();
  double sum = 0.0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    const double d = static_cast<double>(value_at_index(i) + (range_at_index(i) >> 1)) - m;
    sum += d * d * static_cast<double>(counts_[i]);
  }
  return std::sqrt(sum / static_cast<double>(total_));
}

std::int64_t HdrHistogram::value_at_percentile(double p) const {
  if (total_ == 0) return 0;
  if (!(p > 0.0)) return min();  // also catches NaN
  if (p >= 100.0) return max();
  const double exact = p / 100.0 * static_cast<double>(total_);
  // Without the slack 99.9% of 1e6 becomes 999000.0000000001 and ceil() skips a whole count.
  const double rank = std::ceil(exact - exact * 4 * DBL_EPSILON);
  std::uint64_t target = 1;
  if (rank >= static_cast<double>(total_)) {
    target = total_;
  } else if (rank > 1.0) {
    target = static_cast<std::uint64_t>(rank);
  }
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    running += counts_[i];
    if (running >= target) return highest_equivalent_at_index(i);
  }
  return max();
}

}  // namespace lt
