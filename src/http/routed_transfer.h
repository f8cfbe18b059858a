// RoutedTransfer: a range transfer that went through a chosen proxy, telling the proxy routes
// how that proxy did before the transfer itself completes (RequestSetup::Judge), so that the
// retry this completion may cause already takes another route.
//
// Thread-safety: as the transfer it wraps (engine thread only).
// Ownership: owns the inner transfer; borrows the request setup, which outlives the engine.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>
#include <utility>

#include "http/http_engine.h"
#include "http/request.h"
#include "rangefs/byte_range.h"

namespace rangefs::http {

// `Inner` is RangeTransfer or MultiRangeTransfer: a Transfer with exchange() and stalled().
template <typename Inner>
class RoutedTransfer final : public Transfer {
 public:
  RoutedTransfer(std::unique_ptr<Inner> inner, const RequestSetup& requests, Request request)
      : inner_(std::move(inner)), requests_(requests), request_(std::move(request)) {}

  CURL* handle() const override { return inner_->handle(); }
  bool Fetches(const std::string& url, const ByteRange& range) const override {
    return inner_->Fetches(url, range);
  }
  void OnComplete(CURLcode result) override {
    requests_.Judge(request_, inner_->handle(), result, inner_->exchange(), inner_->stalled());
    inner_->OnComplete(result);
  }

 private:
  const std::unique_ptr<Inner> inner_;
  const RequestSetup& requests_;
  const Request request_;
};

}  // namespace rangefs::http
