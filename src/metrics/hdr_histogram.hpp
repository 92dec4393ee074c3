#pragma once
// High dynamic range histogram (same bucket layout as HdrHistogram, so our encoded histograms
// are read by the standard HdrHistogram tools). Values are nanoseconds by convention.
// Not thread-safe: each worker records into its own and the reporter merges copies.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lt {

class HdrHistogram {
 public:
  // Defaults: 1 ns .. 1 h with 3 significant digits.
  HdrHistogram() : HdrHistogram(1, 3'600'000'000'000, 3) {}
  HdrHistogram(std::int64_t lowest, std::int64_t highest, int significant_figures);

  // Values above `highest` are clamped to it and counted in `clamped()`; values below 0 to 0.
  void record(std::int64_t value) { record_n(value, 1); }
  void record_n(std::int64_t value, std::uint64_t count);

  // Adds `other` bucket by bucket. Returns false (and changes nothing) when layouts differ.
  bool add(const HdrHistogram& other);
  void reset();

  std::uint64_t total_count() const { return total_; }
  std::uint64_t clamped() const { return clamped_; }
  std::int64_t min() const;  // 0 when empty
  std::int64_t max() const;  // 0 when empty; highest equivalent value
  double mean() const;
  double stddev() const;
  // Value at percentile p in [0, 100], HdrHistogram semantics (highest equivalent value).
  std::int64_t value_at_percentile(double p) const;

  std::int64_t lowest() const { return lowest_; }
  std::int64_t highest() const { return highest_; }
  int significant_figures() const { return sig_figs_; }
  bool same_layout(const HdrHistogram& other) const;

  // HdrHistogram V2 compressed encoding (cookie 0x1c849304, zlib deflate) in base64.
  std::string encode_base64() const;
  // Decodes what encode_base64 (or any HdrHistogram V2 implementation) wrote; nullopt if malformed.
  static std::optional<HdrHistogram> decode_base64(std::string_view text);

  // Raw bucket access for serializers and tests.
  std::size_t counts_length() const { return counts_.size(); }
  std::uint64_t count_at_index(std::size_t i) const { return counts_[i]; }
  std::int64_t value_at_index(std::size_t i) const;

 private:
  std::int64_t lowest_, highest_;
  int sig_figs_;
  int unit_magnitude_ = 0;
  int sub_bucket_half_count_magnitude_ = 0;
  std::int32_t sub_bucket_count_ = 0;
  std::int32_t sub_bucket_half_count_ = 0;
  std::int64_t sub_bucket_mask_ = 0;
  int bucket_count_ = 0;
  std::uint64_t total_ = 0;
  std::uint64_t clamped_ = 0;
  std::int64_t min_ = INT64_MAX;
  std::int64_t max_ = 0;
  std::vector<std::uint64_t> counts_;

  std::size_t index_of(std::int64_t value) const;
  std::int64_t highest_equivalent_at_index(std::size_t i) const;
  std::int64_t range_at_index(std::size_t i) const;
  // counts_length() of a layout, or 0 when the parameters are invalid; lets the decoder size
  // and vet an untrusted layout before anything is allocated.
  static std::size_t counts_len_for(std::int64_t lowest, std::int64_t highest, int sig_figs);
  // Rebuilds total/min/max from the buckets (after decoding); false if the total overflows.
  bool recompute_from_counts();
};

}  // namespace lt
