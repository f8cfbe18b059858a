#include "rangefs/metrics_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <utility>

#include "rangefs/prometheus_text.h"

namespace rangefs {
namespace {

using Clock = std::chrono::steady_clock;

// A request head longer than this is not a scraper's: curl and Prometheus send a few hundred
// bytes.
constexpr size_t kMaxRequestHead = 8 << 10;
// How long one connection may take, request and response: the one thread serves nobody else
// meanwhile, so a client that stalls must not hold it long.
constexpr std::chrono::milliseconds kConnectionBudget{5000};
// After the response, what the client still sends is read (and dropped) for at most this long
// before closing: closing with unread bytes would make the kernel reset the connection, and a
// reset can destroy the response before the client has read it.
constexpr std::chrono::milliseconds kLingerBudget{1000};
constexpr int kListenBacklog = 16;
constexpr const char* kUsageHint =
    " (the metrics endpoint has no authentication: use 127.0.0.1:PORT, [::1]:PORT or "
    "unix:/PATH)";

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

Status SystemError(const std::string& what) {
  return Status(ErrorCode::kInternal, what + ": " + std::strerror(errno));
}

Result<uint16_t> ParsePort(std::string_view text, std::string_view whole) {
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value > 65535) {
    return Status(ErrorCode::kInvalidArgument,
                  std::string(whole) + ": the port must be a number from 0 to 65535");
  }
  return static_cast<uint16_t>(value);
}

std::string Response(std::string_view status, std::string_view content_type,
                     const std::string& body, bool with_body, std::string_view extra_headers = {}) {
  std::string out = "HTTP/1.1 ";
  out += status;
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\n";
  out += extra_headers;
  out += "Connection: close\r\n\r\n";
  if (with_body) out += body;
  return out;
}

// Milliseconds left until `deadline`, for poll(); 0 once it has passed.
int MillisecondsLeft(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits until `fd` is ready for `events`, the wake pipe fires or the deadline passes; true only
// in the first case.
bool WaitFor(int fd, short events, int wake_fd, Clock::time_point deadline) {
  while (true) {
    const int timeout = MillisecondsLeft(deadline);
    if (timeout == 0) return false;
    pollfd fds[2] = {{.fd = fd, .events = events, .revents = 0},
                     {.fd = wake_fd, .events = POLLIN, .revents = 0}};
    const int ready = ::poll(fds, 2, timeout);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0 || fds[1].revents != 0) return false;
    return fds[0].revents != 0;
  }
}

Result<int> ListenTcp(const MetricsAddress& address, std::string& where) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const bool v6 = address.host.find(':') != std::string::npos;
  if (v6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(address.port);
    if (::inet_pton(AF_INET6, address.host.c_str(), &in6->sin6_addr) != 1) {
      return Status(ErrorCode::kInvalidArgument, address.host + ": not an IPv6 address");
    }
    length = sizeof(sockaddr_in6);
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&storage);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(address.port);
    if (::inet_pton(AF_INET, address.host.c_str(), &in4->sin_addr) != 1) {
      return Status(ErrorCode::kInvalidArgument, address.host + ": not an IPv4 address");
    }
    length = sizeof(sockaddr_in);
  }
  const std::string shown =
      (v6 ? "[" + address.host + "]" : address.host) + ":" + std::to_string(address.port);
  // Non-blocking: a client that gives up between poll() and accept() must not block accept().
  UniqueFd fd(::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return SystemError("socket");
  const int on = 1;
  // A restarted mount may take its port back while the old connections linger in TIME_WAIT.
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&storage), length) != 0) {
    return SystemError(shown);
  }
  if (::listen(fd.get(), kListenBacklog) != 0) return SystemError(shown);
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    return SystemError("getsockname");
  }
  const uint16_t port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port
                                 : reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
  where = "http://" + (v6 ? "[" + address.host + "]" : address.host) + ":" + std::to_string(port) +
          "/metrics";
  return fd.release();
}

// Whether something listens on the unix socket at `address` (a full backlog counts: that is a
// listener too busy to accept at once, and connecting without blocking says so with EAGAIN).
bool UnixSocketAnswers(const sockaddr_un& address) {
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (probe.get() < 0) return false;
  return ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 ||
         errno == EAGAIN;
}

Result<int> ListenUnix(const MetricsAddress& address) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  if (address.path.size() >= sizeof un.sun_path) {
    return Status(ErrorCode::kInvalidArgument, "unix:" + address.path + ": path too long");
  }
  std::memcpy(un.sun_path, address.path.data(), address.path.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return SystemError("socket");
  const std::string shown = "unix:" + address.path;
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&un), sizeof un) != 0) {
    if (errno != EADDRINUSE) return SystemError(shown);
    // Left behind by a mount that did not stop cleanly: replace it, unless it is alive or not
    // a socket at all.
    struct stat st {};
    if (::lstat(address.path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
      return Status(ErrorCode::kInvalidArgument, shown + ": exists and is not a socket");
    }
    if (UnixSocketAnswers(un)) {
      return Status(ErrorCode::kInvalidArgument, shown + ": another process listens there");
    }
    if (::unlink(address.path.c_str()) != 0) return SystemError(shown);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&un), sizeof un) != 0) {
      return SystemError(shown);
    }
  }
  if (::listen(fd.get(), kListenBacklog) != 0) return SystemError(shown);
  return fd.release();
}

}  // namespace

Result<MetricsAddress> ParseMetricsAddress(std::string_view text) {
  const std::string whole(text);
  MetricsAddress address;
  if (text.starts_with("unix:")) {
    address.kind = MetricsAddress::Kind::kUnix;
    address.path = std::string(text.substr(5));
    if (!address.path.starts_with('/')) {
      return Status(ErrorCode::kInvalidArgument,
                    whole + ": a unix socket needs an absolute path (unix:/PATH)");
    }
    if (address.path.find('\0') != std::string::npos ||
        address.path.size() >= sizeof(sockaddr_un::sun_path)) {
      return Status(ErrorCode::kInvalidArgument, whole + ": not a usable unix socket path");
    }
    return address;
  }
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const size_t close = text.find("]:");
    if (close == std::string_view::npos) {
      return Status(ErrorCode::kInvalidArgument, whole + ": expected [IPV6]:PORT");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Status(ErrorCode::kInvalidArgument,
                    whole + ": expected HOST:PORT or unix:/PATH" + kUsageHint);
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  Result<uint16_t> number = ParsePort(port, text);
  if (!number.ok()) return number.status();
  address.port = *number;
  address.host = host == "localhost" ? "127.0.0.1" : std::string(host);

  in_addr v4{};
  in6_addr v6{};
  if (::inet_pton(AF_INET, address.host.c_str(), &v4) == 1) {
    if ((ntohl(v4.s_addr) >> 24) != 127) {
      return Status(ErrorCode::kInvalidArgument, whole + ": refused, " + address.host +
                                                     " is not a loopback address" + kUsageHint);
    }
    return address;
  }
  if (::inet_pton(AF_INET6, address.host.c_str(), &v6) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&v6)) {
      return Status(ErrorCode::kInvalidArgument, whole + ": refused, " + address.host +
                                                     " is not a loopback address" + kUsageHint);
    }
    address.host = "::1";
    return address;
  }
  return Status(ErrorCode::kInvalidArgument,
                whole + ": refused, " + std::string(host) +
                    " is not a loopback IP address (host names are not resolved)" + kUsageHint);
}

std::string MetricsHttpResponse(std::string_view head, const std::function<std::string()>& render) {
  const std::string_view line = head.substr(0, head.find_first_of("\r\n"));
  const size_t first_space = line.find(' ');
  const size_t second_space =
      first_space == std::string_view::npos ? first_space : line.find(' ', first_space + 1);
  const std::string_view version =
      second_space == std::string_view::npos ? std::string_view() : line.substr(second_space + 1);
  if (second_space == std::string_view::npos || !version.starts_with("HTTP/1.") ||
      version.find(' ') != std::string_view::npos) {
    return Response("400 Bad Request", "text/plain; charset=utf-8", "not an HTTP/1.x request\n",
                    true);
  }
  const std::string_view method = line.substr(0, first_space);
  const std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
  const bool head_only = method == "HEAD";
  if (method != "GET" && !head_only) {
    return Response("405 Method Not Allowed", "text/plain; charset=utf-8",
                    "only GET and HEAD are answered\n", true, "Allow: GET, HEAD\r\n");
  }
  if (target.substr(0, target.find('?')) != "/metrics") {
    return Response("404 Not Found", "text/plain; charset=utf-8",
                    "rangefs serves its metrics at /metrics\n", !head_only);
  }
  return Response("200 OK", kPrometheusTextContentType, render(), !head_only);
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::Listen(const MetricsAddress& address) {
  std::string where;
  Result<int> listening =
      address.kind == MetricsAddress::Kind::kUnix ? ListenUnix(address) : ListenTcp(address, where);
  if (!listening.ok()) return listening.status();
  UniqueFd listen_fd(*listening);
  int wake[2] = {-1, -1};
  if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) return SystemError("pipe2");
  std::string unix_path;
  if (address.kind == MetricsAddress::Kind::kUnix) {
    where = "unix:" + address.path;
    unix_path = address.path;
  }
  return std::unique_ptr<MetricsServer>(new MetricsServer(listen_fd.release(), wake[0], wake[1],
                                                          std::move(where), std::move(unix_path)));
}

MetricsServer::MetricsServer(int listen_fd, int wake_read_fd, int wake_write_fd, std::string where,
                             std::string unix_path)
    : listen_fd_(listen_fd),
      wake_read_fd_(wake_read_fd),
      wake_write_fd_(wake_write_fd),
      where_(std::move(where)),
      unix_path_(std::move(unix_path)) {}

MetricsServer::~MetricsServer() { Stop(); }

void MetricsServer::Start(Render render) {
  render_ = std::move(render);
  thread_ = std::thread([this] { Serve(); });
}

void MetricsServer::Stop() {
  if (listen_fd_ < 0) return;
  if (thread_.joinable()) {
    const char byte = 0;
    // The pipe is empty (nothing else writes it), so one byte always fits.
    [[maybe_unused]] const ssize_t written = ::write(wake_write_fd_, &byte, 1);
    thread_.join();
  }
  ::close(listen_fd_);
  ::close(wake_read_fd_);
  ::close(wake_write_fd_);
  listen_fd_ = wake_read_fd_ = wake_write_fd_ = -1;
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
}

void MetricsServer::Serve() {
  while (true) {
    pollfd fds[2] = {{.fd = listen_fd_, .events = POLLIN, .revents = 0},
                     {.fd = wake_read_fd_, .events = POLLIN, .revents = 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("metrics endpoint: poll: {}; not serving any more", std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    const UniqueFd connection(
        ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (connection.get() < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
      spdlog::warn("metrics endpoint: accept: {}", std::strerror(errno));
      // Out of descriptors, say: the pending connection stays pending, so wait a little
      // (or for Stop) instead of spinning on it.
      pollfd wake{.fd = wake_read_fd_, .events = POLLIN, .revents = 0};
      if (::poll(&wake, 1, 100) > 0) return;
      continue;
    }
    Answer(connection.get());
  }
}

void MetricsServer::Answer(int connection) {
  const Clock::time_point deadline = Clock::now() + kConnectionBudget;
  std::string head;
  char buffer[2048];
  while (head.find("\r\n\r\n") == std::string::npos && head.find("\n\n") == std::string::npos) {
    if (head.size() > kMaxRequestHead) {
      head.clear();  // answered as a bad request
      break;
    }
    if (!WaitFor(connection, POLLIN, wake_read_fd_, deadline)) return;
    const ssize_t got = ::recv(connection, buffer, sizeof buffer, 0);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) return;  // gone, or closed before a whole request
    head.append(buffer, static_cast<size_t>(got));
  }
  const std::string response = MetricsHttpResponse(head, render_);
  size_t sent = 0;
  while (sent < response.size()) {
    if (!WaitFor(connection, POLLOUT, wake_read_fd_, deadline)) return;
    const ssize_t wrote =
        ::send(connection, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
    if (wrote < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (wrote <= 0) return;
    sent += static_cast<size_t>(wrote);
  }
  ::shutdown(connection, SHUT_WR);
  const Clock::time_point linger_until = Clock::now() + kLingerBudget;
  while (WaitFor(connection, POLLIN, wake_read_fd_, linger_until)) {
    const ssize_t got = ::recv(connection, buffer, sizeof buffer, 0);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) return;
  }
}

}  // namespace rangefs
