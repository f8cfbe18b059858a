// MetricsServer: the --metrics endpoint. A tiny HTTP/1.1 server that answers GET /metrics with
// the text a render function returns (the Prometheus text format), on a loopback TCP port or a
// unix socket, and closes each connection after its response. It serves one connection at a
// time on one thread: a scraper every few seconds is its whole load. The metrics carry no
// authentication, so TCP addresses other than loopback are refused.
//
// Thread-safety: Start and Stop from the thread that owns the server; the render function is
// called on the server's thread. Ownership: the render function's captures must outlive
// Stop() (or the server).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "rangefs/status.h"

namespace rangefs {

struct MetricsAddress {
  enum class Kind { kTcp, kUnix };
  Kind kind = Kind::kTcp;
  std::string host;   // kTcp: a loopback address, "127.0.0.1" or "::1"
  uint16_t port = 0;  // kTcp: 0 picks a free port
  std::string path;   // kUnix: an absolute path
};

// "127.0.0.1:PORT" (any 127.x.y.z), "[::1]:PORT", "localhost:PORT" (as 127.0.0.1), or
// "unix:/absolute/path". Anything else, a non-loopback host included, is kInvalidArgument
// with a message that says why.
Result<MetricsAddress> ParseMetricsAddress(std::string_view text);

// The whole HTTP/1.1 response to a request whose head (request line and header fields, up to
// the empty line) is `head`: 200 with `render()` for GET /metrics (a query is ignored), the
// same without a body for HEAD, 404 for other paths, 405 for other methods, 400 for what is not
// an HTTP/1.x request line. Always "Connection: close". Pure but for `render`.
std::string MetricsHttpResponse(std::string_view head, const std::function<std::string()>& render);

class MetricsServer {
 public:
  using Render = std::function<std::string()>;

  // Binds and listens, without serving yet (the daemon forks after this, and only the forking
  // thread survives a fork). A stale unix socket (one nobody listens on) is replaced.
  static Result<std::unique_ptr<MetricsServer>> Listen(const MetricsAddress& address);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Where it listens, the chosen port included: "http://127.0.0.1:40123/metrics" or
  // "unix:/run/rangefs.sock".
  const std::string& where() const { return where_; }

  // Starts serving on a thread of its own. REQUIRES: not started yet.
  void Start(Render render);
  // Stops serving, closes the socket and removes a unix socket's file. Idempotent.
  void Stop();

 private:
  MetricsServer(int listen_fd, int wake_read_fd, int wake_write_fd, std::string where,
                std::string unix_path);
  void Serve();
  void Answer(int connection);

  int listen_fd_;
  int wake_read_fd_;  // readable once Stop() was called
  int wake_write_fd_;
  const std::string where_;
  const std::string unix_path_;  // removed by Stop(); empty for TCP
  Render render_;
  std::thread thread_;
};

}  // namespace rangefs
