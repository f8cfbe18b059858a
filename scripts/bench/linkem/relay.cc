#include "relay.h"

#include <algorithm>
#include <array>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cassert>
#include <cstring>
#include <deque>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "send_window.h"

namespace rangefs::linkem {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

// A read that fills at least half a buffer hands the buffer itself to the queue; a smaller one
// is copied into a buffer of its own size, so a queue of small chunks (requests, a capped
// stream's slices) does not pin 256 KiB each: memory stays within twice the queued bytes.
constexpr size_t kKeepBufferMin = kReadSize / 2;
// Full-size buffers kept for reuse per direction: enough for the read side and a few chunks
// in flight; more would just hold memory of an idle connection.
constexpr size_t kMaxSpareBuffers = 4;
// Chunks gathered into one write (one sendmsg with an iovec each).
constexpr size_t kMaxWriteChunks = 16;

// A fixed-capacity buffer sequence, so a write allocates nothing.
struct GatherBuffers {
  std::array<asio::const_buffer, kMaxWriteChunks> buffers;
  size_t count = 0;
  const asio::const_buffer* begin() const { return buffers.data(); }
  const asio::const_buffer* end() const { return buffers.data() + count; }
};

// Bytes received from one side, waiting for their release time to be written to the other.
struct Chunk {
  std::unique_ptr<char[]> data;
  size_t capacity = 0;  // of data; kReadSize marks a reusable buffer
  size_t begin = 0;     // [begin, end) still to be written
  size_t end = 0;
  Clock::time_point release;
  bool eof = false;  // the sender's EOF: shut down writing once everything before it is out
};

class Relay;

// One direction of a relay: reads `from`, queues with release times, writes `to`.
class Direction {
 public:
  Direction(Relay& relay, const char* name, tcp::socket& from, tcp::socket& to,
            SharedLimiter* shared);

  // Starts reading; `not_before` is the earliest moment a byte may leave (the handshake).
  void Start(Clock::time_point not_before);
  // Stops the timers; the sockets are closed by the relay.
  void Cancel();

  bool finished() const { return shut_down_; }
  uint64_t bytes_relayed() const { return bytes_written_; }

 private:
  void MaybeRead();
  // The steps of a read: wait for the connection's tokens, then for the shared ones, then read.
  void WaitForConnTokens();
  void WaitForSharedTokens();
  void Read();
  void OnRead(const error_code& ec, size_t n, size_t reserved);
  void Enqueue(Chunk chunk);
  void MaybeWrite();
  void OnWrite(const error_code& ec, size_t n);
  void Recycle(Chunk& chunk);
  // --window: waits for the earliest pending ACK, frees what is due, and reads again.
  void MaybeWaitForAck();

  Relay& relay_;
  const char* const name_;
  tcp::socket& from_;
  tcp::socket& to_;
  const Clock::duration delay_;
  const uint64_t queue_limit_;
  std::optional<TokenBucket> conn_bucket_;
  SharedLimiter* const shared_;       // owned by LinkState; null when uncapped
  std::optional<SendWindow> window_;  // empty without --window
  // Least connection tokens worth a read: half a burst, so a timer firing late still finds
  // tokens accruing instead of a full bucket that discarded them.
  size_t read_quantum_ = kReadSize;
  Clock::time_point not_before_;

  asio::steady_timer read_timer_;   // waits for connection tokens
  asio::steady_timer write_timer_;  // waits for the queue's front to be released
  asio::steady_timer ack_timer_;    // waits for the window's earliest ACK
  std::unique_ptr<char[]> read_buffer_;
  std::vector<std::unique_ptr<char[]>> spare_buffers_;
  std::deque<Chunk> queue_;
  uint64_t queued_bytes_ = 0;
  uint64_t bytes_written_ = 0;
  bool reading_ = false;  // a read or a wait for tokens is pending
  bool read_eof_ = false;
  bool writing_ = false;  // a write or a release wait is pending
  bool waiting_for_ack_ = false;
  bool shut_down_ = false;
};

class Relay : public std::enable_shared_from_this<Relay> {
 public:
  Relay(tcp::socket client, std::shared_ptr<LinkState> link, uint64_t id);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  void Connect();
  // Closes both sockets with a reset (an error on one side must not look like a clean EOF on
  // the other) and stops everything; pending handlers then see operation_aborted.
  void Abort(const char* what, const error_code& ec);
  void OnDirectionFinished();

  bool aborted() const { return aborted_; }
  LinkState& link() { return *link_; }

 private:
  std::shared_ptr<LinkState> link_;
  const uint64_t id_;
  const Clock::time_point accepted_;
  tcp::socket client_;
  tcp::socket upstream_;
  Direction to_target_;
  Direction to_client_;
  bool aborted_ = false;
};

// ------------------------------------------------------------------------------ Direction

Direction::Direction(Relay& relay, const char* name, tcp::socket& from, tcp::socket& to,
                     SharedLimiter* shared)
    : relay_(relay),
      name_(name),
      from_(from),
      to_(to),
      delay_(std::chrono::duration_cast<Clock::duration>(relay.link().config.delay)),
      queue_limit_(DerivedQueueLimit(relay.link().config)),
      shared_(shared),
      read_timer_(from.get_executor()),
      write_timer_(from.get_executor()),
      ack_timer_(from.get_executor()) {
  const uint64_t conn_rate = relay.link().config.conn_rate;
  if (conn_rate > 0) {
    conn_bucket_.emplace(conn_rate, DerivedBurst(conn_rate), Clock::now());
    read_quantum_ = std::min<size_t>(read_quantum_, conn_bucket_->burst() / 2);
  }
  if (relay.link().config.window > 0) window_.emplace(relay.link().config.window);
}

void Direction::Start(Clock::time_point not_before) {
  not_before_ = not_before;
  MaybeRead();
}

void Direction::Cancel() {
  read_timer_.cancel();
  write_timer_.cancel();
  ack_timer_.cancel();
}

void Direction::MaybeRead() {
  if (reading_ || read_eof_ || relay_.aborted()) return;
  // Backpressure: leave the data in the sender's socket, so TCP flow control holds it back.
  // OnWrite calls back here as the queue drains.
  if (queued_bytes_ >= queue_limit_) return;
  // The window is full until ACKs come back: MaybeWaitForAck calls back here. Checked before
  // waiting for tokens, so a connection waits for its window without holding a turn of the
  // shared bucket.
  if (window_ && window_->Room() == 0) return;
  reading_ = true;
  WaitForConnTokens();
}

void Direction::WaitForConnTokens() {
  if (conn_bucket_) {
    const Clock::time_point now = Clock::now();
    conn_bucket_->Refill(now);
    const Clock::duration wait = conn_bucket_->TimeUntil(read_quantum_);
    if (wait > Clock::duration::zero()) {
      read_timer_.expires_at(now + wait);
      read_timer_.async_wait([self = relay_.shared_from_this(), this](const error_code& ec) {
        if (ec || relay_.aborted()) return;
        WaitForConnTokens();
      });
      return;
    }
  }
  WaitForSharedTokens();
}

void Direction::WaitForSharedTokens() {
  if (shared_ == nullptr || shared_->ReadyNow()) {
    Read();
    return;
  }
  shared_->Wait([self = relay_.shared_from_this(), this] {
    if (!relay_.aborted()) Read();
  });
}

void Direction::Read() {
  // Tokens are reserved now, for the whole read: connections waiting on the shared bucket
  // cannot all spend the same tokens. OnRead gives back what a short read did not use.
  size_t allowance = kReadSize;
  // Never past the window, so in flight stays within it. Only this read takes room, and ACKs
  // only add some, so the room MaybeRead saw is still there.
  if (window_) allowance = std::min<size_t>(allowance, window_->Room());
  if (conn_bucket_ || shared_ != nullptr) {
    const Clock::time_point now = Clock::now();
    for (TokenBucket* bucket :
         {conn_bucket_ ? &*conn_bucket_ : nullptr, shared_ ? &shared_->bucket() : nullptr}) {
      if (bucket == nullptr) continue;
      bucket->Refill(now);
      allowance = std::min<size_t>(allowance, bucket->Available());
    }
    // One grant per turn, whatever a connection holds: a turn as big as the data in each
    // socket would favour the connections whose receive buffers autotuned bigger.
    if (shared_ != nullptr) allowance = std::min<size_t>(allowance, shared_->quantum());
    if (conn_bucket_) conn_bucket_->Take(allowance);
    if (shared_ != nullptr) shared_->bucket().Take(allowance);
  }
  assert(allowance > 0);  // both waits ended with tokens in the buckets
  if (!read_buffer_) {
    if (!spare_buffers_.empty()) {
      read_buffer_ = std::move(spare_buffers_.back());
      spare_buffers_.pop_back();
    } else {
      read_buffer_ = std::make_unique_for_overwrite<char[]>(kReadSize);
    }
  }
  from_.async_read_some(asio::buffer(read_buffer_.get(), allowance),
                        [self = relay_.shared_from_this(), this, allowance](
                            const error_code& ec, size_t n) { OnRead(ec, n, allowance); });
}

void Direction::OnRead(const error_code& ec, size_t n, size_t reserved) {
  reading_ = false;
  if (relay_.aborted() || ec == asio::error::operation_aborted) return;
  if (reserved > n) {
    if (conn_bucket_) conn_bucket_->Give(reserved - n);
    if (shared_ != nullptr) shared_->bucket().Give(reserved - n);
  }
  // Data that arrived before the handshake would have completed leaves after it; a link
  // delivers in order, so every later release is at least as late.
  const Clock::time_point release = std::max(Clock::now(), not_before_) + delay_;
  if (n > 0) {
    Chunk chunk;
    if (n >= kKeepBufferMin) {
      chunk.data = std::move(read_buffer_);
      chunk.capacity = kReadSize;
    } else {
      chunk.data = std::make_unique_for_overwrite<char[]>(n);
      chunk.capacity = n;
      std::memcpy(chunk.data.get(), read_buffer_.get(), n);
    }
    chunk.end = n;
    chunk.release = release;
    queued_bytes_ += n;
    if (window_) window_->OnRead(n);
    Enqueue(std::move(chunk));
  }
  if (ec == asio::error::eof) {
    read_eof_ = true;
    Chunk marker;
    marker.eof = true;
    marker.release = release;
    Enqueue(std::move(marker));
    read_buffer_.reset();
    spare_buffers_.clear();
    // Nothing more is read, so the window no longer matters: no ACK timer keeps the relay
    // alive past the last write.
    window_.reset();
    ack_timer_.cancel();
  } else if (ec) {
    relay_.Abort(name_, ec);
    return;
  }
  MaybeRead();
}

void Direction::Enqueue(Chunk chunk) {
  queue_.push_back(std::move(chunk));
  MaybeWrite();
}

void Direction::MaybeWrite() {
  if (writing_ || shut_down_ || relay_.aborted() || queue_.empty()) return;
  const Clock::time_point now = Clock::now();
  if (queue_.front().release > now) {
    // One timer for the front only: release times never decrease along the queue.
    writing_ = true;
    write_timer_.expires_at(queue_.front().release);
    write_timer_.async_wait([self = relay_.shared_from_this(), this](const error_code& ec) {
      writing_ = false;
      if (ec || relay_.aborted()) return;
      MaybeWrite();
    });
    return;
  }
  if (queue_.front().eof) {
    queue_.pop_front();
    shut_down_ = true;
    error_code shutdown_ec;
    to_.shutdown(tcp::socket::shutdown_send, shutdown_ec);
    // ENOTCONN: the receiver is already gone, which its own direction reports.
    if (shutdown_ec && shutdown_ec != asio::error::not_connected) {
      relay_.Abort(name_, shutdown_ec);
      return;
    }
    relay_.OnDirectionFinished();
    return;
  }
  GatherBuffers gather;
  for (const Chunk& chunk : queue_) {
    if (gather.count == kMaxWriteChunks || chunk.eof || chunk.release > now) break;
    gather.buffers[gather.count++] =
        asio::const_buffer(chunk.data.get() + chunk.begin, chunk.end - chunk.begin);
  }
  writing_ = true;
  to_.async_write_some(gather, [self = relay_.shared_from_this(), this](
                                   const error_code& ec, size_t n) { OnWrite(ec, n); });
}

void Direction::OnWrite(const error_code& ec, size_t n) {
  writing_ = false;
  if (relay_.aborted() || ec == asio::error::operation_aborted) return;
  if (ec) {
    relay_.Abort(name_, ec);
    return;
  }
  queued_bytes_ -= n;
  bytes_written_ += n;
  // The receiver has the bytes now; their ACK takes one delay to come back to the sender.
  if (window_) {
    window_->OnWritten(n, Clock::now() + delay_);
    MaybeWaitForAck();
  }
  while (n > 0) {
    Chunk& front = queue_.front();
    const size_t taken = std::min(n, front.end - front.begin);
    front.begin += taken;
    n -= taken;
    if (front.begin == front.end) {
      Recycle(front);
      queue_.pop_front();
    }
  }
  MaybeWrite();
  MaybeRead();
}

void Direction::MaybeWaitForAck() {
  if (waiting_for_ack_ || !window_ || relay_.aborted()) return;
  const std::optional<Clock::time_point> next = window_->NextAck();
  if (!next) return;
  // One timer for the earliest ACK only: ACK times never decrease.
  waiting_for_ack_ = true;
  ack_timer_.expires_at(*next);
  ack_timer_.async_wait([self = relay_.shared_from_this(), this](const error_code& ec) {
    waiting_for_ack_ = false;
    if (ec || relay_.aborted() || !window_) return;
    window_->Acknowledge(Clock::now());
    MaybeWaitForAck();
    MaybeRead();
  });
}

void Direction::Recycle(Chunk& chunk) {
  if (chunk.capacity == kReadSize && !read_eof_ && spare_buffers_.size() < kMaxSpareBuffers) {
    spare_buffers_.push_back(std::move(chunk.data));
  }
}

// ---------------------------------------------------------------------------------- Relay

SharedLimiter* OptionalLimiter(std::optional<SharedLimiter>& limiter) {
  return limiter ? &*limiter : nullptr;
}

Relay::Relay(tcp::socket client, std::shared_ptr<LinkState> link, uint64_t id)
    : link_(std::move(link)),
      id_(id),
      accepted_(Clock::now()),
      client_(std::move(client)),
      upstream_(client_.get_executor()),
      to_target_(*this, "to target", client_, upstream_, OptionalLimiter(link_->total_to_target)),
      to_client_(*this, "to client", upstream_, client_, OptionalLimiter(link_->total_to_client)) {
  ++link_->open_connections;
}

Relay::~Relay() {
  --link_->open_connections;
  if (link_->config.verbose) {
    std::clog << "linkem: #" << id_ << " closed" << (aborted_ ? " (reset)" : "") << ", "
              << to_target_.bytes_relayed() << " bytes to target, " << to_client_.bytes_relayed()
              << " bytes to client, " << link_->open_connections << " open\n";
  }
}

void Relay::Connect() {
  if (link_->config.verbose) {
    error_code ec;
    std::clog << "linkem: #" << id_ << " accepted from " << client_.remote_endpoint(ec) << ", "
              << link_->open_connections << " open\n";
  }
  upstream_.async_connect(link_->config.target, [self = shared_from_this()](const error_code& ec) {
    if (self->aborted_) return;
    if (ec) {
      self->Abort("connect to target", ec);
      return;
    }
    // The proxy writes whole chunks when they are due; Nagle would hold a small one back
    // until the previous segment is acknowledged, adding delay the link does not have.
    error_code ignored;
    self->client_.set_option(tcp::no_delay(true), ignored);
    self->upstream_.set_option(tcp::no_delay(true), ignored);
    // Handshake emulation: SYN and SYN-ACK take one round trip before the client may send.
    const Clock::time_point not_before =
        self->link_->config.handshake
            ? self->accepted_ +
                  2 * std::chrono::duration_cast<Clock::duration>(self->link_->config.delay)
            : Clock::time_point::min();
    self->to_target_.Start(not_before);
    self->to_client_.Start(not_before);
  });
}

void Relay::Abort(const char* what, const error_code& ec) {
  if (aborted_) return;
  aborted_ = true;
  if (link_->config.verbose) {
    std::clog << "linkem: #" << id_ << " " << what << ": " << ec.message() << "\n";
  }
  to_target_.Cancel();
  to_client_.Cancel();
  for (tcp::socket* socket : {&client_, &upstream_}) {
    error_code ignored;
    if (socket->is_open()) socket->set_option(asio::socket_base::linger(true, 0), ignored);
    socket->close(ignored);
  }
}

void Relay::OnDirectionFinished() {
  if (link_->config.verbose && to_target_.finished() && to_client_.finished()) {
    std::clog << "linkem: #" << id_ << " EOF both ways\n";
  }
}

}  // namespace

LinkState::LinkState(const asio::any_io_executor& executor, LinkConfig link_config)
    : config(std::move(link_config)) {
  if (config.total_rate > 0) {
    const uint64_t burst = DerivedBurst(config.total_rate);
    total_to_target.emplace(executor, config.total_rate, burst,
                            DerivedSharedGrant(config.total_rate));
    total_to_client.emplace(executor, config.total_rate, burst,
                            DerivedSharedGrant(config.total_rate));
  }
}

void LinkState::Shutdown() {
  if (total_to_target) total_to_target->Clear();
  if (total_to_client) total_to_client->Clear();
}

void StartRelay(tcp::socket client, std::shared_ptr<LinkState> link, uint64_t id) {
  std::make_shared<Relay>(std::move(client), std::move(link), id)->Connect();
}

}  // namespace rangefs::linkem
