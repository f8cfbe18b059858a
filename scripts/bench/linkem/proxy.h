// Proxy: the listening side of rangefs_linkem. Accepts connections on a loopback endpoint and
// hands each to a relay (relay.h). Not thread-safe: use it from the io_context's one thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>

#include "link_config.h"
#include "relay.h"

namespace rangefs::linkem {

class Proxy {
 public:
  Proxy(boost::asio::io_context& io, LinkConfig config);
  // Stop()s.
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // Binds and listens on `endpoint` (port 0: the kernel picks one; see port()).
  [[nodiscard]] boost::system::error_code Listen(const boost::asio::ip::tcp::endpoint& endpoint);
  // The port listened on. REQUIRES: Listen() succeeded.
  uint16_t port() const;
  // Starts accepting. REQUIRES: Listen() succeeded.
  void Start();
  // Stops accepting and drops relays waiting for --total-rate tokens (they would keep each
  // other alive); other relays carry on until the io_context stops or is destroyed.
  void Stop();

 private:
  void Accept();

  boost::asio::ip::tcp::acceptor acceptor_;
  // Retries accepting after a failure such as EMFILE, instead of spinning on it.
  boost::asio::steady_timer retry_timer_;
  std::shared_ptr<LinkState> link_;
  uint64_t next_id_ = 0;
};

}  // namespace rangefs::linkem
