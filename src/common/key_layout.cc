// The key layout and the checks of the strings that go into keys, declared in
// vlb/service_instance.h.
#include <arpa/inet.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "vlb/service_instance.h"

namespace vlb {
namespace {

constexpr size_t kMaxNameBytes = 255;

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         c == '-';
}

// Quotes user input in error messages so empty strings and spaces are
// visible.
std::string Quoted(absl::string_view s) {
  return absl::StrCat("\"", absl::CHexEscape(s), "\"");
}

bool IsIpv4Literal(absl::string_view host) {
  in_addr addr;
  return inet_pton(AF_INET, std::string(host).c_str(), &addr) == 1;
}

// Accepts an optional zone ("fe80::1%eth0"), which link-local addresses need.
bool IsIpv6Literal(absl::string_view host) {
  size_t percent = host.find('%');
  if (percent != absl::string_view::npos) {
    absl::string_view zone = host.substr(percent + 1);
    if (zone.empty()) return false;
    for (char c : zone) {
      if (!IsNameChar(c) && c != '.') return false;
    }
    host = host.substr(0, percent);
  }
  in6_addr addr;
  return inet_pton(AF_INET6, std::string(host).c_str(), &addr) == 1;
}

// Underscores are outside RFC 1123 but common in container and compose
// service names, which resolve fine, so they are allowed.
bool IsDnsName(absl::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty() || host.size() > 253) return false;
  for (absl::string_view label : absl::StrSplit(host, '.')) {
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!IsNameChar(c)) return false;
    }
  }
  return true;
}

}  // namespace

absl::Status ValidateServiceName(absl::string_view dotted_name) {
  if (dotted_name.empty()) {
    return absl::InvalidArgumentError("service name is empty");
  }
  if (dotted_name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("service name is ", dotted_name.size(),
                     " bytes long; the limit is ", kMaxNameBytes));
  }
  for (absl::string_view part : absl::StrSplit(dotted_name, '.')) {
    if (part.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("service name ", Quoted(dotted_name),
                       " has an empty part; use names like \"org.srv.app\""));
    }
    for (char c : part) {
      if (!IsNameChar(c)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "service name ", Quoted(dotted_name), " contains ",
            Quoted(absl::string_view(&c, 1)),
            "; parts may only use letters, digits, '_' and '-', separated "
            "by '.'"));
      }
    }
  }
  return absl::OkStatus();
}

std::string ServicePath(absl::string_view dotted_name) {
  return absl::StrCat("/", absl::StrReplaceAll(dotted_name, {{".", "/"}}));
}

std::string ServicePrefix(absl::string_view dotted_name) {
  return absl::StrCat(ServicePath(dotted_name), "/");
}

std::string InstanceKey(absl::string_view dotted_name,
                        absl::string_view instance_id) {
  return absl::StrCat(ServicePrefix(dotted_name), instance_id);
}

std::string ServiceShortName(absl::string_view dotted_name) {
  size_t dot = dotted_name.rfind('.');
  if (dot == absl::string_view::npos) return std::string(dotted_name);
  return std::string(dotted_name.substr(dot + 1));
}

absl::Status ValidateInstanceId(absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("instance id is empty");
  if (id.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat("instance id is ", id.size(),
                                                   " bytes long; the limit is ",
                                                   kMaxNameBytes));
  }
  for (char c : id) {
    if (c == '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("instance id ", Quoted(id),
                       " contains '/', which would nest it below the "
                       "service prefix"));
    }
    if (absl::ascii_iscntrl(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "instance id ", Quoted(id), " contains a control character"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateAddress(absl::string_view address) {
  auto bad = [address](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("address ", Quoted(address), " ", why,
                     "; expected \"host:port\" or \"[ipv6]:port\""));
  };
  absl::string_view host;
  absl::string_view port;
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    if (close == absl::string_view::npos) return bad("has no closing ']'");
    host = address.substr(1, close - 1);
    absl::string_view rest = address.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return bad("has no port");
    port = rest.substr(1);
    if (!IsIpv6Literal(host)) return bad("has an invalid IPv6 address");
  } else {
    size_t colon = address.rfind(':');
    if (colon == absl::string_view::npos) return bad("has no port");
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.empty()) return bad("has no host");
    if (host.find(':') != absl::string_view::npos) {
      return bad("has an IPv6 address without brackets");
    }
    // An all-numeric host must be a real IPv4 address: "10.0.0.256" is a
    // typo, not a DNS name.
    bool numeric =
        host.find_first_not_of("0123456789.") == absl::string_view::npos;
    if (numeric ? !IsIpv4Literal(host) : !IsDnsName(host)) {
      return bad("has an invalid host");
    }
  }
  if (port.empty()) return bad("has no port");
  uint32_t port_number = 0;
  if (port.size() > 5 ||
      port.find_first_not_of("0123456789") != absl::string_view::npos ||
      !absl::SimpleAtoi(port, &port_number) || port_number < 1 ||
      port_number > 65535) {
    return bad("has a port outside [1, 65535]");
  }
  return absl::OkStatus();
}

}  // namespace vlb
