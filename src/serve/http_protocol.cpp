// The built-in server's HTTP/1.1: every request gets `200 OK` with a small fixed body, in order
// (pipelining included); a request that does not parse gets `400 Bad Request` and the connection
// closes after it, as it does after a request that asked to close. Responses carry no Date, so
// each has a fixed size and a test can count response bytes exactly.
#include <string>
#include <string_view>

#include "http/request_parser.hpp"
#include "serve/stream_protocol.hpp"

namespace lt {

namespace {

constexpr std::string_view kBody = "ok\n";

std::string ok_head(std::string_view connection) {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
         std::to_string(kBody.size()) + "\r\n" + std::string(connection) + "\r\n";
}

// The three heads: HTTP/1.1 keep-alive (the default, said by nothing), HTTP/1.0 keep-alive
// (which must be said), and close.
const std::string kKeepAlive11 = ok_head("");
const std::string kKeepAlive10 = ok_head("Connection: keep-alive\r\n");
const std::string kClose = ok_head("Connection: close\r\n");

class HttpProtocol final : public StreamProtocol {
 public:
  bool take(const unsigned char* p, std::size_t n, Replies& replies) override {
    const char* data = reinterpret_cast<const char*>(p);
    while (n > 0) {
      http::RequestParser::Result result;
      const std::size_t used = parser_.feed(data, n, result);
      data += used;
      n -= used;
      if (result == http::RequestParser::Result::NeedMore) break;  // all of it was used
      if (result == http::RequestParser::Result::Error) {
        replies.malformed();
        append(replies, bad_request(parser_.error()));
        return false;
      }
      const http::Request& request = parser_.request();
      replies.unit();
      const std::string& head = !request.keep_alive ? kClose
                                : request.http10    ? kKeepAlive10
                                                    : kKeepAlive11;
      append(replies, head, request.head ? std::string_view() : kBody);
      if (!request.keep_alive) return false;
      parser_.next();
    }
    return true;
  }

 private:
  static void append(Replies& replies, std::string_view head, std::string_view body = {}) {
    replies.out.append(reinterpret_cast<const unsigned char*>(head.data()), head.size());
    replies.out.append(reinterpret_cast<const unsigned char*>(body.data()), body.size());
    replies.answered(replies.out.appended());
  }

  static std::string bad_request(const std::string& why) {
    const std::string body = "bad request: " + why + "\n";
    return "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  }

  http::RequestParser parser_;
};

}  // namespace

std::unique_ptr<StreamProtocol> make_http_protocol() {
  return std::make_unique<HttpProtocol>();
}

}  // namespace lt
