#include "balancer/version_header.h"

#include <cstddef>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "balancer/version.h"

namespace vlb::internal {
namespace {

// Headers a call cannot carry as its own: HTTP/2's connection-specific
// headers (RFC 9113 section 8.2.2), the ones gRPC writes itself
// (content-type, te, user-agent, host) and the ones it drops or parses on the
// way out (content-length, lb-token).
constexpr absl::string_view kReservedHeaders[] = {
    "connection",        "content-length", "content-type",     "host",
    "keep-alive",        "lb-token",       "proxy-connection", "te",
    "transfer-encoding", "upgrade",        "user-agent",
};

bool IsKeyChar(char c) {
  return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'z') || c == '-' ||
         c == '_' || c == '.';
}

// A value as quoted in an error: C-escaped, and cut so that a megabyte of
// input does not end up in a log line.
std::string Quote(absl::string_view text) {
  constexpr size_t kMaxExcerpt = 64;
  if (text.size() <= kMaxExcerpt) {
    return absl::StrCat("\"", absl::CHexEscape(text), "\"");
  }
  return absl::StrCat("\"", absl::CHexEscape(text.substr(0, kMaxExcerpt)),
                      "\"...");
}

}  // namespace

absl::StatusOr<std::string> NormalizeVersionHeaderName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("must not be empty");
  std::string lower = absl::AsciiStrToLower(name);
  if (lower.front() == ':') {
    return absl::InvalidArgumentError(absl::StrCat(
        Quote(name), " is a pseudo-header, which calls cannot set"));
  }
  for (char c : lower) {
    if (!IsKeyChar(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          Quote(name),
          " is not a valid header name (allowed: 0-9 a-z - _ .; found '",
          absl::CHexEscape(absl::string_view(&c, 1)), "')"));
    }
  }
  if (absl::StartsWith(lower, "grpc-")) {
    return absl::InvalidArgumentError(
        absl::StrCat(Quote(name), " is reserved by gRPC (grpc- prefix)"));
  }
  if (absl::EndsWith(lower, "-bin")) {
    return absl::InvalidArgumentError(
        absl::StrCat(Quote(name),
                     " names binary metadata (-bin suffix); routing headers "
                     "are text"));
  }
  for (absl::string_view reserved : kReservedHeaders) {
    if (lower == reserved) {
      return absl::InvalidArgumentError(absl::StrCat(
          Quote(name), " is a header that gRPC or HTTP/2 reserves"));
    }
  }
  return lower;
}

absl::Status ValidateVersionHeaderValue(absl::string_view value) {
  for (size_t i = 0; i < value.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s cannot be sent as metadata: byte 0x%02x at offset %d is not "
          "printable ASCII (allowed: 0x20-0x7e)",
          Quote(value), c, i));
    }
  }
  const absl::string_view trimmed = absl::StripAsciiWhitespace(value);
  if (trimmed.empty()) {
    return absl::InvalidArgumentError(
        value.empty() ? "must not be empty"
                      : absl::StrCat(Quote(value), " is blank"));
  }
  if (trimmed.size() > VersionRequest::kMaxTextSize) {
    return absl::InvalidArgumentError(
        absl::StrCat(Quote(value), " is ", trimmed.size(),
                     " bytes long; a version request has at most ",
                     VersionRequest::kMaxTextSize));
  }
  return absl::OkStatus();
}

}  // namespace vlb::internal
