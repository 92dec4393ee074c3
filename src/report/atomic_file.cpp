#include "report/atomic_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>

namespace lt {

namespace {

// Temporary paths as fixed buffers, so a signal handler can read them without allocating.
constexpr int kSlots = 8;
struct PendingPath {
  std::atomic<bool> used{false};
  char path[PATH_MAX];
};
std::array<PendingPath, kSlots> g_pending;

int remember(const std::string& tmp) {
  if (tmp.size() >= PATH_MAX) return -1;
  for (int i = 0; i < kSlots; ++i) {
    PendingPath& p = g_pending[std::size_t(i)];
    if (p.used.load(std::memory_order_acquire)) continue;
    std::memcpy(p.path, tmp.c_str(), tmp.size() + 1);
    p.used.store(true, std::memory_order_release);
    return i;
  }
  return -1;  // more than kSlots files at once: that one is only removed by its destructor
}

void forget(int& slot) {
  if (slot >= 0) g_pending[std::size_t(slot)].used.store(false, std::memory_order_release);
  slot = -1;
}

std::string parent_dir(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

constexpr std::array<int, 5> kCrashSignals = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
std::array<struct sigaction, kCrashSignals.size()> g_previous{};

extern "C" void on_crash(int sig) {
  static const char msg[] = "load-tester: crashed: no result file written\n";
  (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
  remove_pending_temp_files();
  // Back to the previous handler; returning re-runs the faulting instruction (or abort() raises
  // again), which now reaches it.
  for (std::size_t i = 0; i < kCrashSignals.size(); ++i)
    if (kCrashSignals[i] == sig) sigaction(sig, &g_previous[i], nullptr);
}

extern "C" void on_second_signal(int sig) {
  static const char msg[] =
      "\nload-tester: interrupted again: exiting at once, no result file written\n";
  (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
  remove_pending_temp_files();
  signal(sig, SIG_DFL);
  raise(sig);  // ended by the signal, as a shell expects of Ctrl-C
}

}  // namespace

void exit_on_next_signal() {
  struct sigaction sa {};
  sa.sa_handler = on_second_signal;
  sigemptyset(&sa.sa_mask);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaction(s, &sa, nullptr);
}

void remove_pending_temp_files() noexcept {
  for (PendingPath& p : g_pending)
    if (p.used.load(std::memory_order_acquire)) ::unlink(p.path);
}

void install_crash_cleanup() {
  struct sigaction sa {};
  sa.sa_handler = on_crash;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_ONSTACK;
  for (std::size_t i = 0; i < kCrashSignals.size(); ++i)
    sigaction(kCrashSignals[i], &sa, &g_previous[i]);
}

AtomicFile::~AtomicFile() {
  if (file_) {
    std::fclose(file_);
    ::unlink(tmp_.c_str());
  }
  forget(slot_);
}

bool AtomicFile::open(const std::string& path, std::string& error) {
  path_ = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    error = std::strerror(EISDIR);
    return false;
  }
  tmp_ = path + ".tmp." + std::to_string(::getpid());
  file_ = std::fopen(tmp_.c_str(), "w");
  if (!file_) {
    error = std::strerror(errno);
    return false;
  }
  slot_ = remember(tmp_);
  return true;
}

bool AtomicFile::commit(std::string& error) {
  if (!file_) {
    error = "not open";
    return false;
  }
  // ferror: an earlier short write (a full disk) whose bytes are gone; fflush alone would not
  // tell, and a truncated file would be renamed into place.
  bool ok = std::fflush(file_) == 0 && !std::ferror(file_) && ::fsync(::fileno(file_)) == 0;
  int err = ok ? 0 : (errno ? errno : EIO);
  ok = (std::fclose(file_) == 0) && ok;
  if (!ok && err == 0) err = errno;
  file_ = nullptr;
  if (ok && std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    error = std::strerror(err);
    ::unlink(tmp_.c_str());
  }
  forget(slot_);
  if (ok) {
    // The new name is in the directory's data: without this, a crash of the machine soon after
    // could lose the rename although the file's bytes are on disk.
    const int dir = ::open(parent_dir(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
  }
  return ok;
}

}  // namespace lt
