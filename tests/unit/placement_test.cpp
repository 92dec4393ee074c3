// Distributed runs: rank and size from flags and launchers' variables in their order, start
// times, {rank} in paths, and the striping that makes the union of all ranks exactly the
// single-machine schedule.
#include "cli/placement.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <map>
#include <set>
#include <string>
#include <tuple>

#include "cli/options.hpp"
#include "core/schedule.hpp"
#include "engine/plan.hpp"
#include "options_args.hpp"

namespace lt {
namespace {

using test::error_of;
using test::parse;

// Sets launcher variables for one test and clears them after, so no test sees another's.
class Env {
 public:
  using Vars = std::map<std::string, std::string>;
  explicit Env(Vars vars) : vars_(std::move(vars)) {
    for (const auto& [k, v] : vars_) setenv(k.c_str(), v.c_str(), 1);
  }
  ~Env() {
    for (const auto& [k, v] : vars_) unsetenv(k.c_str());
  }

 private:
  std::map<std::string, std::string> vars_;
};

TEST(Placement, StartTimes) {
  constexpr Nanos six = 1795932000LL * kSecond;  // 2026-11-29T06:00:00Z
  EXPECT_EQ(parse_start_time("2026-11-29T06:00:00Z"), six);
  EXPECT_EQ(parse_start_time("2026-11-29t06:00:00z"), six);
  EXPECT_EQ(parse_start_time("2026-11-29 06:00:00Z"), six);
  EXPECT_EQ(parse_start_time("2026-11-29T07:00:00+01:00"), six);
  EXPECT_EQ(parse_start_time("2026-11-29T05:30:00-00:30"), six);
  EXPECT_EQ(parse_start_time("2026-11-29T06:00:00.25Z"), six + 250 * kMilli);
  EXPECT_EQ(parse_start_time("2026-11-29T06:00:00.000000001Z"), six + 1);
  EXPECT_EQ(parse_start_time("1795932000"), six);
  EXPECT_EQ(parse_start_time("1795932000.5"), six + 500 * kMilli);
  for (const char* bad :
       {"", "tomorrow", "2026-02-30T00:00:00Z", "2026-11-29T24:00:00Z", "2026-11-29T06:00:00",
        "2026-11-29T06:00:00+1:00", "2026-11-29T06:00Z", "1795932000.", "1795932000.1234567891",
        "-5", "1e9", "2026-11-29T06:00:00.Z"})
    EXPECT_FALSE(parse_start_time(bad)) << bad;
}

TEST(Placement, RankInPaths) {
  EXPECT_EQ(expand_rank("out/r-{rank}.json", 3), "out/r-3.json");
  EXPECT_EQ(expand_rank("{rank}/{rank}", 12), "12/12");
  EXPECT_EQ(expand_rank("plain.json", 1), "plain.json");
  const Options o = parse({"--devices", "8", "--rank", "2", "--size", "4", "--json", "r{rank}.json",
                           "--hdr-log", "h{rank}.log"});
  EXPECT_EQ(o.json_path, "r2.json");
  EXPECT_EQ(o.hdr_log_path, "h2.log");
}

TEST(Placement, LaunchersInOrder) {
  {
    Env e(Env::Vars{{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "3"}});
    const Options o = parse({"--devices", "10"});
    EXPECT_EQ(std::tie(o.rank, o.size, o.placement),
              std::make_tuple(1u, 3u, std::string("SLURM_PROCID")));
    EXPECT_EQ(o.local_devices(), 3u);  // 1, 4, 7
  }
  {
    Env e(Env::Vars{{"PMI_RANK", "0"},
                    {"PMI_SIZE", "2"},
                    {"OMPI_COMM_WORLD_RANK", "1"},
                    {"OMPI_COMM_WORLD_SIZE", "2"}});
    EXPECT_EQ(parse({"--devices", "10"}).placement, "OMPI_COMM_WORLD_RANK");  // before PMI
  }
  {
    Env e(Env::Vars{{"LT_RANK", "3"},
                    {"LT_SIZE", "4"},
                    {"OMPI_COMM_WORLD_RANK", "1"},
                    {"OMPI_COMM_WORLD_SIZE", "2"}});
    const Options o = parse({"--devices", "10"});
    EXPECT_EQ(std::tie(o.rank, o.size), std::make_tuple(3u, 4u));   // ours before a launcher's
    EXPECT_EQ(parse({"--devices", "10", "--rank", "0"}).rank, 0u);  // the flag before all
  }
  {
    Env e(Env::Vars{{"JOB_COMPLETION_INDEX", "5"}});
    EXPECT_EQ(parse({"--devices", "10", "--size", "6"}).rank, 5u);
    EXPECT_EQ(error_of({"--devices", "10"}),
              "--size: JOB_COMPLETION_INDEX gives the rank but not the size: pass --size N (or "
              "set LT_SIZE)");
    Env size(Env::Vars{{"LT_SIZE", "8"}});
    EXPECT_EQ(parse({"--devices", "10"}).size, 8u);
  }
  const Options alone = parse({"--devices", "10"});
  EXPECT_EQ(std::tie(alone.rank, alone.size), std::make_tuple(0u, 1u));
  EXPECT_EQ(alone.placement, "");
}

TEST(Placement, ErrorsNameTheFlagOrVariable) {
  EXPECT_EQ(error_of({"--rank", "4", "--size", "4", "--devices", "10"}),
            "--rank: expected a rank from 0 to 3 (--size 4), got 4 (--rank)");
  EXPECT_EQ(error_of({"--size", "4"}), "--rank: --size needs a rank: --rank N (or a launcher's)");
  EXPECT_EQ(error_of({"--rank", "1", "--size", "4", "--devices", "3"}),
            "--devices: 3 device(s) cannot be shared by 4 ranks: each rank needs at least one");
  EXPECT_NE(error_of({"--size", "0", "--rank", "0"}).find("--size"), std::string::npos);
  {
    Env e(Env::Vars{{"OMPI_COMM_WORLD_RANK", "one"}, {"OMPI_COMM_WORLD_SIZE", "2"}});
    EXPECT_EQ(error_of({"--devices", "4"}),
              "OMPI_COMM_WORLD_RANK: expected a whole number from 0 to 1048575, got \"one\"");
  }
  {
    Env e(Env::Vars{{"PMI_RANK", "1"}});
    EXPECT_EQ(error_of({"--devices", "4"}), "PMI_RANK: set without PMI_SIZE");
  }
  EXPECT_NE(error_of({"--start-at", "noon"}).find("--start-at: expected an RFC 3339 time"),
            std::string::npos);
}

TEST(Placement, DescribeParsesBack) {
  const Options o = parse(
      {"--devices", "8", "--rank", "1", "--size", "2", "--start-at", "2026-11-29T06:00:00.5Z"});
  const std::string d = describe_options(o);
  EXPECT_NE(d.find("--rank=1 --size=2 --start-at=1795932000.500000000"), std::string::npos) << d;
  auto words = test::split(d);
  words.erase(words.begin());  // "run"
  const Options back = parse(words);
  EXPECT_EQ(back.start_at, o.start_at);
  EXPECT_EQ(back.rank, 1u);
}

// Every (rank, worker) shard's devices, over all ranks, are 0..N-1 exactly once, and their
// schedules together are the single process's schedule, tick for tick.
TEST(Placement, RanksTogetherAreTheSingleMachineSchedule) {
  for (auto [devices, size, workers] :
       {std::tuple{10u, 3u, 2u}, {1000u, 4u, 3u}, {7u, 7u, 1u}, {9u, 2u, 4u}, {5u, 1u, 2u}}) {
    Options o = parse({"--devices", std::to_string(devices), "--msg", "7"});
    std::set<std::tuple<std::uint64_t, std::uint64_t, Nanos>> together;
    std::multiset<std::uint64_t> ids;
    const Nanos window = 2 * kSecond;
    for (std::uint32_t r = 0; r < size; ++r) {
      o.rank = r;
      o.size = size;
      for (const WorkerShard& s : make_shards(o, workers)) {
        if (s.devices == 0) continue;
        Schedule sched({o.total_rate(), o.devices, s.first_device, s.stride, s.devices}, 0);
        for (std::uint32_t i = 0; i < s.devices; ++i) ids.insert(sched.device_id(i));
        for (; sched.peek().intended < window; sched.advance())
          together.insert({sched.device_id(sched.peek().local_device), sched.peek().seq,
                           sched.peek().intended});
      }
    }
    ASSERT_EQ(ids.size(), devices);
    for (std::uint64_t d = 0; d < devices; ++d) EXPECT_EQ(ids.count(d), 1u) << d;
    Schedule single({o.total_rate(), o.devices, 0, 1, devices}, 0);
    std::set<std::tuple<std::uint64_t, std::uint64_t, Nanos>> alone;
    for (; single.peek().intended < window; single.advance())
      alone.insert({single.peek().local_device, single.peek().seq, single.peek().intended});
    EXPECT_EQ(together, alone) << devices << " devices, " << size << " ranks";
    EXPECT_EQ(alone.size(), std::size_t(devices) * 7 * 2);
  }
}

}  // namespace
}  // namespace lt
