#include "proxy.h"

#include <chrono>
#include <iostream>
#include <utility>

namespace rangefs::linkem {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// Out of file descriptors or similar: give closing connections a moment to free some.
constexpr std::chrono::milliseconds kAcceptRetryDelay{50};

}  // namespace

Proxy::Proxy(asio::io_context& io, LinkConfig config)
    : acceptor_(io),
      retry_timer_(io),
      link_(std::make_shared<LinkState>(io.get_executor(), std::move(config))) {}

Proxy::~Proxy() { Stop(); }

error_code Proxy::Listen(const tcp::endpoint& endpoint) {
  error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    acceptor_.close(ignored);
  }
  return ec;
}

uint16_t Proxy::port() const {
  error_code ec;
  return acceptor_.local_endpoint(ec).port();
}

void Proxy::Start() { Accept(); }

void Proxy::Stop() {
  error_code ignored;
  acceptor_.close(ignored);
  retry_timer_.cancel();
  link_->Shutdown();
}

void Proxy::Accept() {
  acceptor_.async_accept([this](const error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      std::clog << "linkem: accept: " << ec.message() << "\n";
      retry_timer_.expires_after(kAcceptRetryDelay);
      retry_timer_.async_wait([this](const error_code& timer_ec) {
        if (!timer_ec) Accept();
      });
      return;
    }
    StartRelay(std::move(socket), link_, ++next_id_);
    Accept();
  });
}

}  // namespace rangefs::linkem
