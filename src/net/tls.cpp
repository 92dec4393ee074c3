#include "net/tls.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace lt {

namespace {
std::string queued_error(const char* fallback) {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return fallback;
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

bool ip_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}
}  // namespace

TlsContext::TlsContext(const TlsOptions& o) {
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (!ctx_) throw std::runtime_error("TLS: " + queued_error("cannot create a context"));
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  // An EOF without close_notify is how most servers end a connection; HTTP's own framing tells
  // a truncated response from a whole one.
  SSL_CTX_set_options(ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Partial writes let one buffer drain across many writable events. Released buffers keep
  // 10,000 idle connections from holding 34 KiB each.
  SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                             SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_verify(ctx_, o.insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
  const bool loaded = o.ca_file.empty()
                          ? SSL_CTX_set_default_verify_paths(ctx_) == 1
                          : SSL_CTX_load_verify_locations(ctx_, o.ca_file.c_str(), nullptr) == 1;
  if (!loaded && !o.insecure) {
    const std::string why = queued_error("no certificates found");
    SSL_CTX_free(ctx_);
    throw std::runtime_error(
        o.ca_file.empty() ? "TLS: cannot load the system's CA certificates: " + why
                          : "--ca-file: no usable CA certificate in \"" + o.ca_file + "\": " + why);
  }
}

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
}

TlsSession::TlsSession(TlsContext& context, int fd, const std::string& host) {
  ssl_ = SSL_new(context.get());
  if (!ssl_) return;  // handshake() reports it
  SSL_set_fd(ssl_, fd);
  if (ip_literal(host)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_, host.c_str());
    SSL_set1_host(ssl_, host.c_str());
  }
  SSL_set_connect_state(ssl_);
}

TlsSession::~TlsSession() {
  SSL_free(ssl_);
}

TlsIo TlsSession::status(int rc) {
  sys_errno_ = 0;
  const int e = SSL_get_error(ssl_, rc);
  switch (e) {
    case SSL_ERROR_WANT_READ:
      return TlsIo::WantRead;
    case SSL_ERROR_WANT_WRITE:
      return TlsIo::WantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return TlsIo::Closed;
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0) {
        sys_errno_ = errno;
        if (errno == 0) return TlsIo::Closed;
        error_ = std::strerror(errno);
        return TlsIo::Failed;
      }
      [[fallthrough]];
    default: {
      // Under --insecure the chain is still checked, only not enforced: its result is no
      // reason for a failure then.
      const long verify = SSL_get_verify_result(ssl_);
      if ((SSL_get_verify_mode(ssl_) & SSL_VERIFY_PEER) && verify != X509_V_OK) {
        ERR_clear_error();
        error_ = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
      } else {
        error_ = queued_error("TLS error");
      }
      return TlsIo::Failed;
    }
  }
}

TlsIo TlsSession::handshake() {
  if (!ssl_) {
    error_ = queued_error("cannot create a TLS session");
    return TlsIo::Failed;
  }
  ERR_clear_error();
  errno = 0;
  const int rc = SSL_do_handshake(ssl_);
  if (rc == 1) return TlsIo::Done;
  const TlsIo s = status(rc);
  // A close during the handshake is the server refusing us, not a clean end.
  if (s == TlsIo::Closed) {
    error_ = "connection closed during the TLS handshake";
    return TlsIo::Failed;
  }
  return s;
}

TlsIo TlsSession::write(const void* data, std::size_t size, std::size_t& moved) {
  ERR_clear_error();
  errno = 0;
  const int rc = SSL_write_ex(ssl_, data, size, &moved);
  return rc == 1 ? TlsIo::Done : status(rc);
}

TlsIo TlsSession::read(void* data, std::size_t size, std::size_t& moved) {
  ERR_clear_error();
  errno = 0;
  const int rc = SSL_read_ex(ssl_, data, size, &moved);
  return rc == 1 ? TlsIo::Done : status(rc);
}

}  // namespace lt
