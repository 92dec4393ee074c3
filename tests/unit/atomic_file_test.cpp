// AtomicFile: a result path holds the old file or the complete new one, never a part, and no
// temporary file outlives the writer (committed, abandoned, or removed by a signal handler).
#include "report/atomic_file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace lt {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("atomic-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "run.json").string();
    std::ofstream(path_) << "old";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string content() const {
    std::ifstream in(path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::size_t files() const {
    return std::size_t(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(AtomicFileTest, CommitReplacesTheFileWhole) {
  AtomicFile f;
  std::string error;
  ASSERT_TRUE(f.open(path_, error)) << error;
  std::fputs("new", f.stream());
  EXPECT_EQ(content(), "old");  // nothing visible before the commit
  EXPECT_EQ(files(), 2u);
  ASSERT_TRUE(f.commit(error)) << error;
  EXPECT_EQ(content(), "new");
  EXPECT_EQ(files(), 1u);
}

TEST_F(AtomicFileTest, AbandonedWriterLeavesTheOldFileAndNoTemporary) {
  {
    AtomicFile f;
    std::string error;
    ASSERT_TRUE(f.open(path_, error)) << error;
    std::fputs("half", f.stream());
  }
  EXPECT_EQ(content(), "old");
  EXPECT_EQ(files(), 1u);
}

TEST_F(AtomicFileTest, SignalCleanupRemovesOnlyOpenTemporaries) {
  AtomicFile open_one, committed;
  std::string error;
  ASSERT_TRUE(committed.open((dir_ / "done.json").string(), error)) << error;
  ASSERT_TRUE(committed.commit(error)) << error;
  ASSERT_TRUE(open_one.open(path_, error)) << error;
  EXPECT_EQ(files(), 3u);  // run.json, its temporary, done.json
  remove_pending_temp_files();
  EXPECT_EQ(files(), 2u);
  EXPECT_EQ(content(), "old");
  EXPECT_TRUE(fs::exists(dir_ / "done.json"));
}

TEST_F(AtomicFileTest, DirectoryIsRefusedAtOpen) {
  AtomicFile f;
  std::string error;
  EXPECT_FALSE(f.open(dir_.string(), error));
  EXPECT_EQ(error, "Is a directory");
  EXPECT_FALSE(f.open((dir_ / "missing" / "x.json").string(), error));
  EXPECT_EQ(error, "No such file or directory");
  EXPECT_EQ(files(), 1u);
}

}  // namespace
}  // namespace lt
