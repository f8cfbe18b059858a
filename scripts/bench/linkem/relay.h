// Relaying one accepted connection through the emulated link. Everything here runs on one
// io_context thread; nothing is thread-safe.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <optional>

#include "link_config.h"
#include "shared_limiter.h"

namespace rangefs::linkem {

// What all relays of one proxy share. Held by shared_ptr: relays still queued in the
// io_context when it is destroyed outlive the proxy object.
struct LinkState {
  LinkState(const boost::asio::any_io_executor& executor, LinkConfig link_config);
  LinkState(const LinkState&) = delete;
  LinkState& operator=(const LinkState&) = delete;

  // Drops the relays waiting for --total-rate tokens (they hold the state alive in turn).
  void Shutdown();

  const LinkConfig config;
  // The --total-rate limiters, one per direction; empty when uncapped.
  std::optional<SharedLimiter> total_to_target;
  std::optional<SharedLimiter> total_to_client;
  // Connections currently relayed (for --verbose).
  uint64_t open_connections = 0;
};

// Connects to link->config.target and relays `client` to it and back, applying the link's
// delay and caps, until both directions have seen EOF or either fails. The relay owns itself:
// it lives as long as one of its asynchronous operations is pending, and closes both sockets
// when it goes away. `id` only labels log lines.
void StartRelay(boost::asio::ip::tcp::socket client, std::shared_ptr<LinkState> link, uint64_t id);

}  // namespace rangefs::linkem
