#include "report/atomic_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lt {

AtomicFile::~AtomicFile() {
  if (file_) {
    std::fclose(file_);
    ::unlink(tmp_.c_str());
  }
}

bool AtomicFile::open(const std::string& path, std::string& error) {
  path_ = path;
  tmp_ = path + ".tmp." + std::to_string(::getpid());
  file_ = std::fopen(tmp_.c_str(), "w");
  if (!file_) {
    error = std::strerror(errno);
    return false;
  }
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
  return ok;
}

}  // namespace lt
