#pragma once
// A result file that appears complete or not at all: written to a temporary file beside the
// target and renamed over it on commit(). Opened before the run, so an unwritable path is
// reported before anything is sent.
#include <cstdio>
#include <string>

namespace lt {

class AtomicFile {
 public:
  AtomicFile() = default;
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // False with `error` set (strerror text) when the temporary file cannot be created, or the
  // path names a directory (found now, not at the rename after the run).
  bool open(const std::string& path, std::string& error);
  std::FILE* stream() { return file_; }
  bool is_open() const { return file_ != nullptr; }
  // Flushes, syncs and renames (then syncs the directory, so the rename survives a power cut);
  // false with `error` set on any failure (e.g. disk full).
  bool commit(std::string& error);

 private:
  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
  int slot_ = -1;  // its place among the temporary files a fatal signal removes
};

// Removes the temporary files of every AtomicFile still open. Async-signal-safe (unlink only):
// for the handlers of a second Ctrl-C and of a crash, so that a run that dies leaves its result
// paths untouched and no `*.tmp.PID` behind.
void remove_pending_temp_files() noexcept;

// On SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT: says on stderr that no result file was
// written, removes the temporary files, then hands the signal to whatever handled it before (the
// default action, or a sanitizer's report).
void install_crash_cleanup();

// After the first SIGINT/SIGTERM/SIGHUP (a clean stop under way): the next one ends the process
// at once, saying so on stderr, with the temporary files removed. Unblock the signals after.
void exit_on_next_signal();

}  // namespace lt
