#include "balancer/policy_config.h"

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "balancer/version_header.h"
#include "nlohmann/json.hpp"
#include "vlb/service_instance.h"

namespace vlb::internal {
namespace {

using Json = nlohmann::json;

// Configuration text may come from anywhere, so parsing must not throw. The DOM
// parser without exceptions only says "invalid", so a second, SAX pass that
// ignores everything but the error recovers nlohmann's description (line,
// column, what was expected).
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

absl::Status NamedError(absl::string_view name, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(name, ": ", problem));
}

absl::StatusOr<VersionRequest> ParseRequest(absl::string_view name,
                                            absl::string_view text) {
  absl::StatusOr<VersionRequest> request = VersionRequest::Parse(text);
  if (!request.ok()) return NamedError(name, request.status().message());
  return request;
}

absl::StatusOr<ChildPolicy> ParseChildPolicy(absl::string_view name,
                                             absl::string_view value) {
  if (value == "round_robin") return ChildPolicy::kRoundRobin;
  if (value == "weighted_round_robin") return ChildPolicy::kWeightedRoundRobin;
  if (value == "random") return ChildPolicy::kRandom;
  return NamedError(name, absl::StrCat("\"", absl::CHexEscape(value),
                                       "\" is not one of round_robin, "
                                       "weighted_round_robin, random"));
}

absl::Status ReadString(absl::string_view policy, absl::string_view field,
                        const Json& value, std::string* out) {
  if (absl::Status s =
          ExpectType(policy, field, value, value.is_string(), "a string");
      !s.ok()) {
    return s;
  }
  *out = value.get_ref<const std::string&>();
  return absl::OkStatus();
}

absl::Status ReadStrings(absl::string_view policy, absl::string_view field,
                         const Json& value, std::vector<std::string>* out) {
  absl::Status status =
      ExpectType(policy, field, value, value.is_array(), "an array of strings");
  for (size_t i = 0; status.ok() && i < value.size(); ++i) {
    status = ReadString(policy, absl::StrCat(field, "[", i, "]"), value[i],
                        &out->emplace_back());
  }
  return status;
}

// The fields every vlb policy takes: false when `key` is not one of them.
bool ReadLaneField(absl::string_view policy, const std::string& key,
                   const Json& value, VersionPolicySettings* settings,
                   absl::Status* status) {
  if (key == "laneHeader") {
    *status = ReadString(policy, "laneHeader", value, &settings->lane_header);
  } else if (key == "strictLanes") {
    *status =
        ReadStrings(policy, "strictLanes", value, &settings->strict_lanes);
  } else {
    return false;
  }
  return true;
}

// Only the shape of the JSON is checked here; the values are judged by
// MakeVersionPolicyConfig, which vlb::CreateChannel uses too.
absl::StatusOr<VersionPolicySettings> ReadVersionFields(const Json& object) {
  const absl::string_view policy = kVersionPolicyName;
  VersionPolicySettings settings;
  for (const auto& [key, value] : object.items()) {
    absl::Status status;
    if (key == "header") {
      status = ReadString(policy, "header", value, &settings.header);
    } else if (key == "defaultVersion") {
      status = ReadString(policy, "defaultVersion", value,
                          &settings.default_version.emplace());
    } else if (key == "fallback") {
      status = ReadStrings(policy, "fallback", value, &settings.fallback);
    } else if (key == "childPolicy") {
      status = ReadString(policy, "childPolicy", value, &settings.child_policy);
    } else if (!ReadLaneField(policy, key, value, &settings, &status)) {
      status = FieldError(policy, absl::CHexEscape(key),
                          "unknown field (expected header, defaultVersion, "
                          "fallback, childPolicy, laneHeader or strictLanes)");
    }
    if (!status.ok()) return status;
  }
  return settings;
}

// The defaults of `policy_name`, which decide what its JSON may hold.
absl::StatusOr<PolicyConfig> DefaultsOf(absl::string_view policy_name) {
  PolicyConfig config;
  if (policy_name == kWeightedRoundRobinPolicyName) {
    config.version_aware = false;
    config.child = ChildPolicy::kWeightedRoundRobin;
  } else if (policy_name == kRandomPolicyName) {
    config.version_aware = false;
    config.child = ChildPolicy::kRandom;
  } else if (policy_name != kVersionPolicyName) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown policy \"", absl::CHexEscape(policy_name), "\" (expected ",
        kVersionPolicyName, ", ", kWeightedRoundRobinPolicyName, " or ",
        kRandomPolicyName, ")"));
  }
  return config;
}

absl::Status CheckLaneSettings(const VersionPolicySettings& settings,
                               const VersionPolicyFieldNames& names,
                               PolicyConfig* config) {
  absl::StatusOr<std::string> header =
      NormalizeVersionHeaderName(settings.lane_header);
  if (!header.ok()) {
    return NamedError(names.lane_header, header.status().message());
  }
  config->lane_header = *std::move(header);
  for (size_t i = 0; i < settings.strict_lanes.size(); ++i) {
    if (absl::Status s = ValidateLane(settings.strict_lanes[i]); !s.ok()) {
      return NamedError(absl::StrCat(names.strict_lanes, "[", i, "]"),
                        s.message());
    }
  }
  config->strict_lanes = settings.strict_lanes;
  return absl::OkStatus();
}

// vlb_weighted_round_robin and vlb_random: only the lane fields.
absl::StatusOr<PolicyConfig> ReadLaneConfig(absl::string_view policy,
                                            const Json& object,
                                            PolicyConfig config) {
  VersionPolicySettings settings;
  for (const auto& [key, value] : object.items()) {
    absl::Status status;
    if (!ReadLaneField(policy, key, value, &settings, &status)) {
      status = FieldError(policy, absl::CHexEscape(key),
                          absl::StrCat("unknown field (", policy,
                                       " takes laneHeader and strictLanes)"));
    }
    if (!status.ok()) return status;
  }
  const std::string header = absl::StrCat(policy, ".laneHeader");
  const std::string lanes = absl::StrCat(policy, ".strictLanes");
  VersionPolicyFieldNames names;
  names.lane_header = header;
  names.strict_lanes = lanes;
  absl::Status status = CheckLaneSettings(settings, names, &config);
  if (!status.ok()) return status;
  return config;
}

}  // namespace

absl::StatusOr<PolicyConfig> PolicyConfigFromJson(absl::string_view policy_name,
                                                  const nlohmann::json& value) {
  absl::StatusOr<PolicyConfig> config = DefaultsOf(policy_name);
  if (!config.ok() || value.is_null()) return config;
  if (!value.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        policy_name, ": must be a JSON object, not ", TypeName(value)));
  }
  if (config->version_aware) {
    absl::StatusOr<VersionPolicySettings> settings = ReadVersionFields(value);
    if (!settings.ok()) return settings.status();
    return MakeVersionPolicyConfig(*settings, kServiceConfigFieldNames);
  }
  return ReadLaneConfig(policy_name, value, *std::move(config));
}

absl::StatusOr<PolicyConfig> ParsePolicyConfig(absl::string_view policy_name,
                                               absl::string_view json) {
  // An unknown policy is reported before anything about its JSON.
  absl::StatusOr<PolicyConfig> defaults = DefaultsOf(policy_name);
  if (!defaults.ok()) return defaults.status();
  absl::string_view text = absl::StripAsciiWhitespace(json);
  if (text.empty()) return defaults;
  Json value = Json::parse(text.begin(), text.end(), /*cb=*/nullptr,
                           /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    ErrorRecorder recorder;
    Json::sax_parse(text.begin(), text.end(), &recorder);
    return absl::InvalidArgumentError(
        absl::StrCat(policy_name, ": invalid JSON: ", recorder.message()));
  }
  return PolicyConfigFromJson(policy_name, value);
}

absl::StatusOr<PolicyConfig> MakeVersionPolicyConfig(
    const VersionPolicySettings& settings,
    const VersionPolicyFieldNames& names) {
  PolicyConfig config;
  absl::StatusOr<std::string> header =
      NormalizeVersionHeaderName(settings.header);
  if (!header.ok()) return NamedError(names.header, header.status().message());
  config.header = *std::move(header);
  if (settings.default_version.has_value()) {
    absl::StatusOr<VersionRequest> request =
        ParseRequest(names.default_version, *settings.default_version);
    if (!request.ok()) return request.status();
    config.default_version = *request;
  }
  if (settings.fallback.size() > kMaxFallbacks) {
    return absl::InvalidArgumentError(
        absl::StrCat(names.fallback, ": has ", settings.fallback.size(),
                     " entries, at most ", kMaxFallbacks, " are allowed"));
  }
  config.fallback.reserve(settings.fallback.size());
  for (size_t i = 0; i < settings.fallback.size(); ++i) {
    absl::StatusOr<VersionRequest> request = ParseRequest(
        absl::StrCat(names.fallback, "[", i, "]"), settings.fallback[i]);
    if (!request.ok()) return request.status();
    config.fallback.push_back(*request);
  }
  absl::StatusOr<ChildPolicy> child =
      ParseChildPolicy(names.child_policy, settings.child_policy);
  if (!child.ok()) return child.status();
  config.child = *child;
  if (absl::Status s = CheckLaneSettings(settings, names, &config); !s.ok()) {
    return s;
  }
  return config;
}

}  // namespace vlb::internal
