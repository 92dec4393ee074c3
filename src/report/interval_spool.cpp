#include "report/interval_spool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "report/result_json.hpp"

namespace lt {

IntervalSpool::IntervalSpool(const std::string& result_path) {
  const auto slash = result_path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : result_path.substr(0, slash);
  const int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) {
    file_ = ::fdopen(fd, "w+");
    if (!file_) ::close(fd);
  }
  if (!file_) file_ = std::tmpfile();  // a file system without O_TMPFILE
  if (!file_) errno_ = errno ? errno : EIO;
}

IntervalSpool::~IntervalSpool() {
  if (file_) std::fclose(file_);
}

void IntervalSpool::add(const IntervalPoint& point) {
  if (!file_ || errno_) return;
  // Each record carries its separator, so the file copies into the array as it is.
  const std::string text = (count_ == 0 ? "\n    " : ",\n    ") + interval_to_json(point).dump();
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size()) errno_ = errno ? errno : EIO;
  ++count_;
}

bool IntervalSpool::write_result(nlohmann::json result, std::FILE* out, std::string& error) {
  result.erase("intervals");
  std::string head = result.dump(2);  // "{\n  ...\n}"
  head.pop_back();
  while (!head.empty() && head.back() == '\n') head.pop_back();
  head += ",\n  \"intervals\": [";
  std::fwrite(head.data(), 1, head.size(), out);
  if (file_ && !errno_) {
    if (std::fflush(file_) != 0 || std::fseek(file_, 0, SEEK_SET) != 0) errno_ = errno;
    std::array<char, 1 << 16> buf;
    while (!errno_) {
      const std::size_t n = std::fread(buf.data(), 1, buf.size(), file_);
      if (n > 0) std::fwrite(buf.data(), 1, n, out);
      if (n < buf.size()) {
        if (std::ferror(file_)) errno_ = errno ? errno : EIO;
        break;
      }
    }
  }
  const char* tail = count_ ? "\n  ]\n}\n" : "]\n}\n";
  std::fputs(tail, out);
  if (errno_) {
    error = std::string("the interval series: ") + std::strerror(errno_);
    return false;
  }
  return true;  // errors writing `out` are the caller's to find (ferror at commit)
}

}  // namespace lt
