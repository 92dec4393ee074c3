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

  // False with `error` set (strerror text) when the temporary file cannot be created.
  bool open(const std::string& path, std::string& error);
  std::FILE* stream() { return file_; }
  bool is_open() const { return file_ != nullptr; }
  // Flushes, syncs and renames; false with `error` set on any failure (e.g. disk full).
  bool commit(std::string& error);

 private:
  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
};

}  // namespace lt
