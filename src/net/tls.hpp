#pragma once
// Client TLS over the non-blocking sockets of a worker's loop, with OpenSSL. Each worker owns its
// context, so no lock is shared between workers. Verification of the chain and of the host name
// (or IP address) is on unless --insecure.
#include <cstddef>
#include <memory>
#include <string>

#include "cli/options.hpp"

struct ssl_ctx_st;
struct ssl_st;

namespace lt {

enum class TlsIo : unsigned char { Done, WantRead, WantWrite, Closed, Failed };

class TlsContext {
 public:
  // Throws std::runtime_error with a one-line reason (an unreadable or empty CA file, ...).
  explicit TlsContext(const TlsOptions& options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  ssl_ctx_st* get() const { return ctx_; }

 private:
  ssl_ctx_st* ctx_ = nullptr;
};

class TlsSession {
 public:
  // `host` is sent as SNI (names only) and is what the certificate must match.
  TlsSession(TlsContext& context, int fd, const std::string& host);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  TlsIo handshake();
  // Done with `moved` > 0, or why nothing moved.
  TlsIo write(const void* data, std::size_t size, std::size_t& moved);
  TlsIo read(void* data, std::size_t size, std::size_t& moved);
  // Why the last call Failed, on one line ("certificate verify failed: self-signed ...").
  const std::string& error() const { return error_; }
  // The socket's errno when a Failed came from the system (a reset), else 0.
  int sys_errno() const { return sys_errno_; }

 private:
  TlsIo status(int rc);
  ssl_st* ssl_ = nullptr;
  std::string error_;
  int sys_errno_ = 0;
};

}  // namespace lt
