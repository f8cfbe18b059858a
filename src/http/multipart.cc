#include "http/multipart.h"

#include <algorithm>
#include <utility>

#include "http/syntax.h"

namespace rangefs::http {
namespace {

constexpr std::string_view kWhitespace = " \t";

std::string_view TrimLeft(std::string_view s) {
  const size_t begin = s.find_first_not_of(kWhitespace);
  return begin == std::string_view::npos ? std::string_view() : s.substr(begin);
}

// RFC 2046 section 5.1.1: bcharsnospace.
bool IsBoundaryCharNoSpace(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("'()+_,-./:=?").find(c) != std::string_view::npos;
}

// A byte of the input for a message: itself when printable, else its code.
std::string Describe(char c) {
  if (IsControl(c) || static_cast<unsigned char>(c) >= 0x80) {
    constexpr std::string_view kHex = "0123456789abcdef";
    const auto byte = static_cast<unsigned char>(c);
    return std::string("byte 0x") + kHex[byte >> 4] + kHex[byte & 0xf];
  }
  return std::string("'") + c + "'";
}

Status Violation(std::string message) {
  return Status(ErrorCode::kProtocolViolation, "multipart/byteranges: " + std::move(message));
}

}  // namespace

bool IsValidMultipartBoundary(std::string_view boundary) {
  if (boundary.empty() || boundary.size() > kMaxMultipartBoundaryLength) return false;
  if (boundary.back() == ' ') return false;
  return std::ranges::all_of(boundary, [](char c) { return c == ' ' || IsBoundaryCharNoSpace(c); });
}

std::optional<std::string> ByterangesBoundary(std::string_view content_type) {
  std::string_view rest = TrimOws(content_type);
  const size_t type_end = std::min(rest.find_first_of(";"), rest.find_first_of(kWhitespace));
  if (!EqualsIgnoreCase(rest.substr(0, type_end), "multipart/byteranges")) return std::nullopt;
  rest.remove_prefix(std::min(type_end, rest.size()));

  // parameters = *( OWS ";" OWS [ parameter ] ), parameter = name "=" ( token / quoted-string )
  std::optional<std::string> boundary;
  while (true) {
    rest = TrimLeft(rest);
    if (rest.empty()) break;
    if (rest.front() != ';') return std::nullopt;
    rest = TrimLeft(rest.substr(1));
    if (rest.empty() || rest.front() == ';') continue;  // an empty parameter

    const size_t name_length = TokenLength(rest);
    if (name_length == 0) return std::nullopt;
    const std::string_view name = rest.substr(0, name_length);
    rest.remove_prefix(name_length);
    if (rest.empty() || rest.front() != '=') return std::nullopt;
    rest.remove_prefix(1);

    std::string value;
    if (!rest.empty() && rest.front() == '"') {
      std::optional<std::string> quoted = TakeQuotedString(rest);
      if (!quoted) return std::nullopt;
      value = std::move(*quoted);
    } else {
      const size_t value_length = TokenLength(rest);
      if (value_length == 0) return std::nullopt;
      value = std::string(rest.substr(0, value_length));
      rest.remove_prefix(value_length);
    }
    if (EqualsIgnoreCase(name, "boundary")) {
      if (boundary) return std::nullopt;  // two boundaries: which one would the server use?
      boundary = std::move(value);
    }
  }
  if (!boundary || !IsValidMultipartBoundary(*boundary)) return std::nullopt;
  return boundary;
}

bool IsMultipartMediaType(std::string_view content_type) {
  constexpr std::string_view kPrefix = "multipart/";
  const std::string_view rest = TrimLeft(content_type);
  return rest.size() > kPrefix.size() && EqualsIgnoreCase(rest.substr(0, kPrefix.size()), kPrefix);
}

MultipartByterangesParser::MultipartByterangesParser(std::string boundary, Callbacks callbacks)
    : boundary_(std::move(boundary)),
      delimiter_("\r\n--" + boundary_),
      callbacks_(std::move(callbacks)) {
  if (!IsValidMultipartBoundary(boundary_)) {
    state_ = State::kFailed;
    error_ = Status(ErrorCode::kInvalidArgument,
                    "multipart/byteranges: invalid boundary (RFC 2046: 1 to 70 characters of "
                    "letters, digits, space and '()+_,-./:=?, not ending with a space)");
  }
}

Status MultipartByterangesParser::Fail(Status status) {
  state_ = State::kFailed;
  error_ = std::move(status);
  line_.clear();
  line_.shrink_to_fit();
  held_.clear();
  return error_;
}

std::string MultipartByterangesParser::PartName() const {
  const bool in_headers = state_ == State::kHeaders || state_ == State::kDelimiterLine;
  std::string name = "part " + std::to_string(in_headers ? part_count_ + 1 : part_count_);
  if (!in_headers && part_range_) {
    name += " (bytes " + std::to_string(part_range_->range->first) + "-" +
            std::to_string(part_range_->range->last) + "/" +
            (part_range_->complete_length ? std::to_string(*part_range_->complete_length) : "*") +
            ")";
  }
  return name;
}

Status MultipartByterangesParser::Feed(std::span<const std::byte> data) {
  size_t i = 0;
  while (i < data.size()) {
    switch (state_) {
      case State::kFailed:
        return error_;
      case State::kEpilogue:
        return Status::Ok();  // discarded
      case State::kBody: {
        const size_t n = static_cast<size_t>(
            std::min<uint64_t>(remaining_, static_cast<uint64_t>(data.size() - i)));
        const std::span<const std::byte> bytes = data.subspan(i, n);
        i += n;
        remaining_ -= n;
        if (remaining_ == 0) {
          state_ = State::kDelimiter;
          matched_ = 0;
        }
        if (Status status = BodyBytes(bytes); !status.ok()) return Fail(std::move(status));
        break;
      }
      default: {
        Status status = Step(static_cast<char>(data[i]));
        ++i;
        if (!status.ok()) return Fail(std::move(status));
        break;
      }
    }
  }
  return state_ == State::kFailed ? error_ : Status::Ok();
}

Status MultipartByterangesParser::Step(char c) {
  switch (state_) {
    case State::kPreamble:
      return StepPreamble(c);
    case State::kDelimiterLine:
      return StepDelimiterLine(c);
    case State::kHeaders:
      return StepHeaders(c);
    case State::kDelimiter:
      return StepDelimiter(c);
    case State::kBody:
    case State::kEpilogue:
    case State::kFailed:
      break;
  }
  return Status(ErrorCode::kInternal, "multipart/byteranges: byte stepped in a bulk state");
}

Status MultipartByterangesParser::StepPreamble(char c) {
  if (++preamble_bytes_ > kMaxPreambleBytes) {
    return Violation("no delimiter \"--" + boundary_ + "\" in the first " +
                     std::to_string(kMaxPreambleBytes) + " bytes");
  }
  if (c == '\n') {
    matched_ = 0;  // the next line may be the first delimiter
    return Status::Ok();
  }
  if (matched_ == std::string_view::npos) return Status::Ok();
  // "--" boundary is delimiter_ without its leading CRLF.
  if (c != delimiter_[2 + matched_]) {
    matched_ = std::string_view::npos;
    return Status::Ok();
  }
  if (2 + ++matched_ == delimiter_.size()) {
    state_ = State::kDelimiterLine;
    padding_bytes_ = 0;
    saw_dash_ = false;
    saw_cr_ = false;
  }
  return Status::Ok();
}

Status MultipartByterangesParser::StepDelimiterLine(char c) {
  if (saw_dash_) {
    if (c != '-') return Violation("\"--" + boundary_ + "-\" followed by " + Describe(c));
    if (part_count_ == 0) return Violation("close delimiter before any part");
    state_ = State::kEpilogue;
    return Status::Ok();
  }
  if (c == '\n') {
    state_ = State::kHeaders;
    line_.clear();
    header_bytes_ = 0;
    part_range_.reset();
    return Status::Ok();
  }
  if (saw_cr_) return Violation("CR not followed by LF after the delimiter");
  if (c == '\r') {
    saw_cr_ = true;
  } else if (c == '-' && padding_bytes_ == 0) {
    saw_dash_ = true;
  } else if (c == ' ' || c == '\t') {
    if (++padding_bytes_ > kMaxHeaderLineBytes) return Violation("delimiter line too long");
  } else {
    return Violation("delimiter \"--" + boundary_ + "\" followed by " + Describe(c));
  }
  return Status::Ok();
}

Status MultipartByterangesParser::StepHeaders(char c) {
  if (++header_bytes_ > kMaxPartHeaderBytes) {
    return Violation(PartName() + ": headers longer than " + std::to_string(kMaxPartHeaderBytes) +
                     " bytes");
  }
  if (c != '\n') {
    if (line_.size() == kMaxHeaderLineBytes) {
      return Violation(PartName() + ": header line longer than " +
                       std::to_string(kMaxHeaderLineBytes) + " bytes");
    }
    line_ += c;
    return Status::Ok();
  }
  std::string_view line = line_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  Status status = line.empty() ? EndOfHeaders() : HeaderLine(line);
  line_.clear();
  return status;
}

Status MultipartByterangesParser::HeaderLine(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') {
    return Violation(PartName() + ": folded header line (obsolete line folding)");
  }
  if (const auto bad = std::ranges::find_if(line, [](char c) { return IsControl(c) && c != '\t'; });
      bad != line.end()) {
    return Violation(PartName() + ": " + Describe(*bad) + " in a header line");
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return Violation(PartName() + ": header line without ':'");
  const std::string_view name = line.substr(0, colon);
  if (name.empty() || TokenLength(name) != name.size()) {
    return Violation(PartName() + ": malformed header name");
  }
  if (!EqualsIgnoreCase(name, "content-range")) return Status::Ok();  // not ours to judge

  if (part_range_) return Violation(PartName() + ": two Content-Range headers");
  const std::string_view value = line.substr(colon + 1);
  Result<ContentRange> parsed = ParseContentRange(value);
  if (!parsed.ok()) return Violation(PartName() + ": " + parsed.status().message());
  if (!parsed->range) {
    return Violation(PartName() + ": Content-Range \"" + std::string(TrimOws(value)) +
                     "\" names no range");
  }
  // "bytes a-b/*" (the server does not know the complete length) agrees with any total; the
  // totals that are given must be one.
  if (complete_length_ && parsed->complete_length &&
      *parsed->complete_length != *complete_length_) {
    return Violation(PartName() + ": Content-Range \"" + std::string(TrimOws(value)) +
                     "\" gives another complete length than an earlier part (" +
                     std::to_string(*complete_length_) + ")");
  }
  part_range_ = std::move(parsed).value();
  return Status::Ok();
}

Status MultipartByterangesParser::EndOfHeaders() {
  if (!part_range_) return Violation(PartName() + ": no Content-Range");
  if (callbacks_.on_part) {
    Status status = callbacks_.on_part(*part_range_);
    if (!status.ok()) return status;
  }
  ++part_count_;
  if (!complete_length_) complete_length_ = part_range_->complete_length;
  part_length_ = part_range_->range->length();
  remaining_ = part_length_;
  state_ = State::kBody;
  line_.clear();
  return Status::Ok();
}

Status MultipartByterangesParser::BodyBytes(std::span<const std::byte> bytes) {
  const auto chars = [](std::span<const std::byte> b) {
    return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
  };
  // The delimiter may begin in the held bytes and end in these: look where they meet first.
  const size_t keep = delimiter_.size() - 1;
  size_t found = std::string_view::npos;  // where in held_ + bytes the delimiter begins
  if (!held_.empty()) {
    const std::string joint = held_ + std::string(chars(bytes.first(std::min(keep, bytes.size()))));
    found = joint.find(delimiter_);
  }
  if (found == std::string_view::npos) {
    const size_t in_bytes = chars(bytes).find(delimiter_);
    if (in_bytes != std::string_view::npos) found = held_.size() + in_bytes;
  }
  // Everything but the last `keep` bytes can go out now; those wait for the delimiter after
  // the part, or for more bytes that show they do not begin one. On a delimiter, what comes
  // before it goes out, whatever the pieces were, then the part fails.
  const size_t total = held_.size() + bytes.size();
  const size_t out = found != std::string_view::npos ? found : (total > keep ? total - keep : 0);
  const size_t from_held = std::min(out, held_.size());
  const size_t from_bytes = out - from_held;
  if (from_held > 0) {
    if (Status status = Deliver(std::as_bytes(std::span(held_).first(from_held))); !status.ok())
      return status;
  }
  if (from_bytes > 0) {
    if (Status status = Deliver(bytes.first(from_bytes)); !status.ok()) return status;
  }
  if (found != std::string_view::npos) {
    return Violation(PartName() + ": the delimiter \"\\r\\n--" + boundary_ + "\" after " +
                     std::to_string(part_length_ - remaining_ - (total - found)) + " of its " +
                     std::to_string(part_length_) +
                     " bytes: the body is shorter than its Content-Range (RFC 2046: a delimiter "
                     "never occurs inside a part)");
  }
  held_.erase(0, from_held);
  held_.append(chars(bytes.subspan(from_bytes)));
  return Status::Ok();
}

Status MultipartByterangesParser::Deliver(std::span<const std::byte> bytes) {
  return callbacks_.on_data ? callbacks_.on_data(bytes) : Status::Ok();
}

Status MultipartByterangesParser::StepDelimiter(char c) {
  if (c != delimiter_[matched_]) {
    return Violation(PartName() + ": " + Describe(c) + " where the delimiter \"\\r\\n--" +
                     boundary_ + "\" should follow its " + std::to_string(part_length_) +
                     " bytes (" + std::to_string(matched_) +
                     " of the delimiter's bytes matched): the body is longer or shorter than "
                     "its Content-Range");
  }
  if (++matched_ == delimiter_.size()) {
    state_ = State::kDelimiterLine;
    padding_bytes_ = 0;
    saw_dash_ = false;
    saw_cr_ = false;
    // The part had exactly its length: its last bytes are its own, not an early delimiter.
    const std::string last = std::move(held_);
    held_.clear();
    if (!last.empty()) return Deliver(std::as_bytes(std::span(last)));
  }
  return Status::Ok();
}

Status MultipartByterangesParser::Finish() {
  switch (state_) {
    case State::kFailed:
      return error_;
    case State::kEpilogue:
      return Status::Ok();
    case State::kPreamble:
      return Fail(Status(ErrorCode::kTruncated,
                         "multipart/byteranges: body ended before the first delimiter"));
    case State::kDelimiterLine:
      return Fail(
          Status(ErrorCode::kTruncated,
                 "multipart/byteranges: body ended in a delimiter line, before " + PartName()));
    case State::kHeaders:
      return Fail(Status(ErrorCode::kTruncated,
                         "multipart/byteranges: body ended in the headers of " + PartName()));
    case State::kBody:
      return Fail(Status(ErrorCode::kTruncated, "multipart/byteranges: body ended after " +
                                                    std::to_string(part_length_ - remaining_) +
                                                    " of the " + std::to_string(part_length_) +
                                                    " bytes of " + PartName()));
    case State::kDelimiter:
      return Fail(
          Status(ErrorCode::kTruncated,
                 "multipart/byteranges: body ended without a close delimiter after " + PartName()));
  }
  return error_;
}

}  // namespace rangefs::http
