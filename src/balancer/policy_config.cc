#include "balancer/policy_config.h"

#include <cstddef>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"

namespace vlb::internal {
namespace {

using Json = nlohmann::json;

constexpr absl::string_view kVersionPolicy = "vlb_version";
constexpr absl::string_view kWeightedRoundRobinPolicy =
    "vlb_weighted_round_robin";
constexpr absl::string_view kRandomPolicy = "vlb_random";

// Service configs come from the network (resolver, xDS), so parsing must not
// throw. The DOM parser without exceptions only says "invalid", so a second,
// SAX pass that ignores everything but the error recovers nlohmann's
// description (line, column, what was expected).
class ErrorRecorder : public nlohmann::json_sax<Json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    message_ = ex.what();
    return false;
  }

  // Without nlohmann's "[json.exception.parse_error.101] " tag, which means
  // nothing to whoever wrote the service config.
  std::string message() const {
    absl::string_view text = message_;
    if (absl::StartsWith(text, "[")) {
      size_t end = text.find("] ");
      if (end != absl::string_view::npos) text.remove_prefix(end + 2);
    }
    return std::string(text.empty() ? "invalid JSON" : text);
  }

 private:
  std::string message_;
};

absl::Status FieldError(absl::string_view policy, absl::string_view field,
                        absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat(policy, ".", field, ": ", problem));
}

absl::string_view TypeName(const Json& value) {
  // type_name() says "number" for every number type; that is what a config
  // author needs to know.
  return value.type_name();
}

absl::Status ExpectType(absl::string_view policy, absl::string_view field,
                        const Json& value, bool ok, absl::string_view want) {
  if (ok) return absl::OkStatus();
  return FieldError(policy, field,
                    absl::StrCat("must be ", want, ", not ", TypeName(value)));
}

// Metadata keys travel as HTTP/2 header names: lower case, a restricted
// alphabet, and neither pseudo-headers (":path") nor the "grpc-" names gRPC
// reserves for itself, which applications cannot set.
absl::StatusOr<std::string> ParseHeader(absl::string_view policy,
                                        const Json& value) {
  if (absl::Status s =
          ExpectType(policy, "header", value, value.is_string(), "a string");
      !s.ok()) {
    return s;
  }
  std::string header =
      absl::AsciiStrToLower(value.get_ref<const std::string&>());
  if (header.empty()) return FieldError(policy, "header", "must not be empty");
  if (header.front() == ':') {
    return FieldError(policy, "header",
                      absl::StrCat("\"", absl::CHexEscape(header),
                                   "\" is a pseudo-header, which calls cannot "
                                   "set"));
  }
  for (char c : header) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'z') && c != '-' &&
        c != '_' && c != '.') {
      return FieldError(
          policy, "header",
          absl::StrCat("\"", absl::CHexEscape(header),
                       "\" is not a valid header name (allowed: 0-9 a-z - _ "
                       ".; found '",
                       absl::CHexEscape(absl::string_view(&c, 1)), "')"));
    }
  }
  if (absl::StartsWith(header, "grpc-")) {
    return FieldError(
        policy, "header",
        absl::StrCat("\"", header, "\" is reserved by gRPC (grpc- prefix)"));
  }
  return header;
}

absl::StatusOr<VersionRequest> ParseRequest(absl::string_view policy,
                                            absl::string_view field,
                                            const Json& value) {
  if (absl::Status s =
          ExpectType(policy, field, value, value.is_string(), "a string");
      !s.ok()) {
    return s;
  }
  absl::StatusOr<VersionRequest> request =
      VersionRequest::Parse(value.get_ref<const std::string&>());
  if (!request.ok()) {
    return FieldError(policy, field, request.status().message());
  }
  return request;
}

absl::StatusOr<ChildPolicy> ParseChildPolicy(absl::string_view policy,
                                             const Json& value) {
  if (absl::Status s = ExpectType(policy, "childPolicy", value,
                                  value.is_string(), "a string");
      !s.ok()) {
    return s;
  }
  const std::string& name = value.get_ref<const std::string&>();
  if (name == "round_robin") return ChildPolicy::kRoundRobin;
  if (name == "weighted_round_robin") return ChildPolicy::kWeightedRoundRobin;
  if (name == "random") return ChildPolicy::kRandom;
  return FieldError(policy, "childPolicy",
                    absl::StrCat("\"", absl::CHexEscape(name),
                                 "\" is not one of round_robin, "
                                 "weighted_round_robin, random"));
}

absl::Status ParseVersionFields(const Json& object, PolicyConfig* config) {
  const absl::string_view policy = kVersionPolicy;
  for (const auto& [key, value] : object.items()) {
    if (key == "header") {
      absl::StatusOr<std::string> header = ParseHeader(policy, value);
      if (!header.ok()) return header.status();
      config->header = *std::move(header);
    } else if (key == "defaultVersion") {
      absl::StatusOr<VersionRequest> request =
          ParseRequest(policy, "defaultVersion", value);
      if (!request.ok()) return request.status();
      config->default_version = *request;
    } else if (key == "fallback") {
      if (absl::Status s = ExpectType(policy, "fallback", value,
                                      value.is_array(), "an array of strings");
          !s.ok()) {
        return s;
      }
      config->fallback.clear();
      config->fallback.reserve(value.size());
      for (size_t i = 0; i < value.size(); ++i) {
        absl::StatusOr<VersionRequest> request =
            ParseRequest(policy, absl::StrCat("fallback[", i, "]"), value[i]);
        if (!request.ok()) return request.status();
        config->fallback.push_back(*request);
      }
    } else if (key == "childPolicy") {
      absl::StatusOr<ChildPolicy> child = ParseChildPolicy(policy, value);
      if (!child.ok()) return child.status();
      config->child = *child;
    } else {
      return FieldError(policy, absl::CHexEscape(key),
                        "unknown field (expected header, defaultVersion, "
                        "fallback or childPolicy)");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PolicyConfig> ParsePolicyConfig(absl::string_view policy_name,
                                               absl::string_view json) {
  PolicyConfig config;
  if (policy_name == kWeightedRoundRobinPolicy) {
    config.version_aware = false;
    config.child = ChildPolicy::kWeightedRoundRobin;
  } else if (policy_name == kRandomPolicy) {
    config.version_aware = false;
    config.child = ChildPolicy::kRandom;
  } else if (policy_name != kVersionPolicy) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown policy \"", absl::CHexEscape(policy_name),
                     "\" (expected ", kVersionPolicy, ", ",
                     kWeightedRoundRobinPolicy, " or ", kRandomPolicy, ")"));
  }

  // gRPC hands over an absent config as empty text or `null`.
  absl::string_view text = absl::StripAsciiWhitespace(json);
  if (text.empty()) return config;
  Json object = Json::parse(text.begin(), text.end(), /*cb=*/nullptr,
                            /*allow_exceptions=*/false);
  if (object.is_discarded()) {
    ErrorRecorder recorder;
    Json::sax_parse(text.begin(), text.end(), &recorder);
    return absl::InvalidArgumentError(
        absl::StrCat(policy_name, ": invalid JSON: ", recorder.message()));
  }
  if (object.is_null()) return config;
  if (!object.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        policy_name, ": must be a JSON object, not ", TypeName(object)));
  }

  if (config.version_aware) {
    if (absl::Status s = ParseVersionFields(object, &config); !s.ok()) return s;
    return config;
  }
  if (!object.empty()) {
    return FieldError(
        policy_name, absl::CHexEscape(object.begin().key()),
        absl::StrCat("unknown field (", policy_name, " takes no fields)"));
  }
  return config;
}

}  // namespace vlb::internal
