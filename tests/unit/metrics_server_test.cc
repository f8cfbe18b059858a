#include "rangefs/metrics_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace rangefs {
namespace {

// --- Addresses ---

TEST(ParseMetricsAddressTest, LoopbackTcp) {
  Result<MetricsAddress> a = ParseMetricsAddress("127.0.0.1:9100");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->kind, MetricsAddress::Kind::kTcp);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9100);

  Result<MetricsAddress> any_port = ParseMetricsAddress("127.0.0.1:0");
  ASSERT_TRUE(any_port.ok());
  EXPECT_EQ(any_port->port, 0);

  Result<MetricsAddress> other_loopback = ParseMetricsAddress("127.12.0.3:65535");
  ASSERT_TRUE(other_loopback.ok());
  EXPECT_EQ(other_loopback->host, "127.12.0.3");
  EXPECT_EQ(other_loopback->port, 65535);

  Result<MetricsAddress> localhost = ParseMetricsAddress("localhost:80");
  ASSERT_TRUE(localhost.ok());
  EXPECT_EQ(localhost->host, "127.0.0.1");

  Result<MetricsAddress> v6 = ParseMetricsAddress("[::1]:9100");
  ASSERT_TRUE(v6.ok()) << v6.status().ToString();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9100);
}

TEST(ParseMetricsAddressTest, UnixSocket) {
  Result<MetricsAddress> a = ParseMetricsAddress("unix:/run/rangefs/metrics.sock");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->kind, MetricsAddress::Kind::kUnix);
  EXPECT_EQ(a->path, "/run/rangefs/metrics.sock");
}

TEST(ParseMetricsAddressTest, RefusesWhatIsNotLoopback) {
  for (const char* text : {"0.0.0.0:9100", "192.168.1.10:9100", "10.0.0.1:1", "[::]:9100",
                           "[2001:db8::1]:9100", "example.org:9100", "128.0.0.1:9100"}) {
    Result<MetricsAddress> a = ParseMetricsAddress(text);
    ASSERT_FALSE(a.ok()) << text;
    EXPECT_EQ(a.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(a.status().message().find("refused"), std::string::npos) << a.status().message();
    EXPECT_NE(a.status().message().find(text), std::string::npos) << a.status().message();
  }
}

TEST(ParseMetricsAddressTest, RefusesMalformedAddresses) {
  for (const char* text : {"", "9100", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                           "127.0.0.1:80x", "[::1]", "[::1:9100", "unix:", "unix:relative.sock"}) {
    Result<MetricsAddress> a = ParseMetricsAddress(text);
    EXPECT_FALSE(a.ok()) << "'" << text << "' was accepted";
  }
  Result<MetricsAddress> long_path = ParseMetricsAddress("unix:/" + std::string(200, 'x'));
  EXPECT_FALSE(long_path.ok());
}

// --- Responses ---

std::string Render() { return "m 1\n"; }

TEST(MetricsHttpResponseTest, GetMetrics) {
  EXPECT_EQ(MetricsHttpResponse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", Render),
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            "Content-Length: 4\r\n"
            "Connection: close\r\n"
            "\r\n"
            "m 1\n");
  // A query (Prometheus may add one) is not part of the path.
  EXPECT_TRUE(MetricsHttpResponse("GET /metrics?x=1 HTTP/1.0\r\n\r\n", Render)
                  .starts_with("HTTP/1.1 200 OK\r\n"));
}

TEST(MetricsHttpResponseTest, HeadHasNoBody) {
  const std::string response = MetricsHttpResponse("HEAD /metrics HTTP/1.1\r\n\r\n", Render);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 200 OK\r\n"));
  EXPECT_NE(response.find("Content-Length: 4\r\n"), std::string::npos);
  EXPECT_TRUE(response.ends_with("\r\n\r\n"));
}

TEST(MetricsHttpResponseTest, OtherPathsMethodsAndGarbage) {
  bool rendered = false;
  const auto render = [&rendered] {
    rendered = true;
    return std::string("m 1\n");
  };
  EXPECT_TRUE(MetricsHttpResponse("GET / HTTP/1.1\r\n\r\n", render)
                  .starts_with("HTTP/1.1 404 Not Found\r\n"));
  EXPECT_TRUE(MetricsHttpResponse("GET /metricsx HTTP/1.1\r\n\r\n", render)
                  .starts_with("HTTP/1.1 404 Not Found\r\n"));
  const std::string post = MetricsHttpResponse("POST /metrics HTTP/1.1\r\n\r\n", render);
  EXPECT_TRUE(post.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_NE(post.find("Allow: GET, HEAD\r\n"), std::string::npos);
  for (const char* garbage : {"", "GET\r\n\r\n", "GET /metrics\r\n\r\n",
                              "GET /metrics SPDY/3\r\n\r\n", "\x16\x03\x01 hello"}) {
    EXPECT_TRUE(MetricsHttpResponse(garbage, render).starts_with("HTTP/1.1 400 Bad Request\r\n"))
        << garbage;
  }
  EXPECT_FALSE(rendered) << "rendered metrics for a request that does not get them";
}

// --- A real server on loopback ---

// Sends `request` over a fresh connection to `address`, returns everything until the server
// closes.
std::string Exchange(const sockaddr* address, socklen_t length, std::string_view request) {
  const int fd = ::socket(address->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  if (fd < 0) return "";
  timeval timeout{.tv_sec = 10, .tv_usec = 0};  // a broken server fails the test, not hangs it
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string response;
  if (::connect(fd, address, length) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buffer[4096];
    ssize_t got = 0;
    while ((got = ::recv(fd, buffer, sizeof buffer, 0)) > 0) {
      response.append(buffer, static_cast<size_t>(got));
    }
  } else {
    ADD_FAILURE() << "connect/send: " << std::strerror(errno);
  }
  ::close(fd);
  return response;
}

uint16_t PortOf(const std::string& where) {
  // "http://127.0.0.1:PORT/metrics"
  const size_t colon = where.rfind(':');
  return static_cast<uint16_t>(std::stoi(where.substr(colon + 1)));
}

TEST(MetricsServerTest, ServesOnAPickedLoopbackPort) {
  Result<MetricsAddress> address = ParseMetricsAddress("127.0.0.1:0");
  ASSERT_TRUE(address.ok());
  Result<std::unique_ptr<MetricsServer>> server = MetricsServer::Listen(*address);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string where = (*server)->where();
  ASSERT_TRUE(where.starts_with("http://127.0.0.1:")) << where;
  ASSERT_TRUE(where.ends_with("/metrics")) << where;
  EXPECT_NE(PortOf(where), 0);
  std::atomic<int> renders{0};
  (*server)->Start([&renders] { return "rangefs_scrapes " + std::to_string(++renders) + "\n"; });

  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(PortOf(where));
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const auto* sa = reinterpret_cast<const sockaddr*>(&in);
  for (int scrape = 1; scrape <= 2; ++scrape) {
    const std::string response =
        Exchange(sa, sizeof in, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    EXPECT_TRUE(response.starts_with("HTTP/1.1 200 OK\r\n")) << response;
    EXPECT_TRUE(response.ends_with("\r\n\r\nrangefs_scrapes " + std::to_string(scrape) + "\n"))
        << response;
  }
  // A client that sends half a request and goes away does not stop the server.
  const int half = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(half, sa, sizeof in), 0);
  ASSERT_EQ(::send(half, "GET /met", 8, MSG_NOSIGNAL), 8);
  ::close(half);
  EXPECT_TRUE(Exchange(sa, sizeof in, "GET /nothing HTTP/1.1\r\n\r\n")
                  .starts_with("HTTP/1.1 404 Not Found\r\n"));
  (*server)->Stop();
  (*server)->Stop();  // idempotent
  EXPECT_EQ(renders.load(), 2);
}

TEST(MetricsServerTest, ATakenPortIsAnError) {
  Result<std::unique_ptr<MetricsServer>> first =
      MetricsServer::Listen(*ParseMetricsAddress("127.0.0.1:0"));
  ASSERT_TRUE(first.ok());
  const uint16_t port = PortOf((*first)->where());
  Result<std::unique_ptr<MetricsServer>> second =
      MetricsServer::Listen(*ParseMetricsAddress("127.0.0.1:" + std::to_string(port)));
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("in use"), std::string::npos)
      << second.status().message();
}

class UnixSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/rangefs-metrics-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/metrics.sock";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Scrape() {
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    std::memcpy(un.sun_path, path_.data(), path_.size());
    return Exchange(reinterpret_cast<const sockaddr*>(&un), sizeof un,
                    "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
  }

  std::string dir_;
  std::string path_;
};

TEST_F(UnixSocketTest, ServesAndRemovesItsSocket) {
  Result<std::unique_ptr<MetricsServer>> server =
      MetricsServer::Listen(*ParseMetricsAddress("unix:" + path_));
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  EXPECT_EQ((*server)->where(), "unix:" + path_);
  (*server)->Start([] { return std::string("m 7\n"); });
  EXPECT_TRUE(Scrape().ends_with("\r\n\r\nm 7\n"));
  (*server)->Stop();
  EXPECT_FALSE(std::filesystem::exists(path_)) << "the socket file outlived the server";
}

TEST_F(UnixSocketTest, AStaleSocketIsReplacedALiveOneIsNot) {
  {
    // A socket file nobody listens on, as a killed mount leaves it.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    std::memcpy(un.sun_path, path_.data(), path_.size());
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&un), sizeof un), 0);
    ::close(fd);
  }
  ASSERT_TRUE(std::filesystem::is_socket(path_));
  Result<std::unique_ptr<MetricsServer>> server =
      MetricsServer::Listen(*ParseMetricsAddress("unix:" + path_));
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  (*server)->Start([] { return std::string("m 1\n"); });

  Result<std::unique_ptr<MetricsServer>> second =
      MetricsServer::Listen(*ParseMetricsAddress("unix:" + path_));
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("another process"), std::string::npos);
  EXPECT_TRUE(Scrape().ends_with("\r\n\r\nm 1\n")) << "the refused second server broke the first";
}

TEST_F(UnixSocketTest, APathThatIsNotASocketIsLeftAlone) {
  {
    std::FILE* file = std::fopen(path_.c_str(), "w");
    ASSERT_NE(file, nullptr);
    std::fclose(file);
  }
  Result<std::unique_ptr<MetricsServer>> server =
      MetricsServer::Listen(*ParseMetricsAddress("unix:" + path_));
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("not a socket"), std::string::npos);
  EXPECT_TRUE(std::filesystem::is_regular_file(path_));
}

}  // namespace
}  // namespace rangefs
