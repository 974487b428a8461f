#include "routing/route_document.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "balancer/policy_config.h"
#include "balancer/version.h"
#include "balancer/version_header.h"
#include "common/json_depth.h"
#include "nlohmann/json.hpp"
#include "routing/sticky_hash.h"

namespace vlb::internal {
namespace {

using Json = nlohmann::json;

// Route documents nest four levels (rules[i].when.header); anything much
// deeper is refused before parsing (common/json_depth.h).
constexpr int kMaxNesting = 8;

absl::Status FieldError(absl::string_view path, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", problem));
}

std::string Path(absl::string_view parent, absl::string_view field) {
  return parent.empty() ? std::string(field) : absl::StrCat(parent, ".", field);
}

absl::Status WrongType(absl::string_view path, absl::string_view expected,
                       const Json& got) {
  return FieldError(
      path, absl::StrCat("expected ", expected, ", got ", got.type_name()));
}

// Unknown fields are errors: a misspelt "stickyHeadr" must not silently
// turn a sticky split into a per-call one.
absl::Status CheckFields(const Json& object, absl::string_view path,
                         std::initializer_list<absl::string_view> known) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return FieldError(Path(path, key),
                        absl::StrCat("unknown field (expected one of ",
                                     absl::StrJoin(known, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> StringAt(const Json& value,
                                     absl::string_view path) {
  if (!value.is_string()) return WrongType(path, "a string", value);
  return value.get<std::string>();
}

// A version request as a route may name it: the full request grammar.
absl::StatusOr<std::string> RequestAt(const Json& value,
                                      absl::string_view path) {
  absl::StatusOr<std::string> text = StringAt(value, path);
  if (!text.ok()) return text.status();
  absl::StatusOr<VersionRequest> parsed = VersionRequest::Parse(*text);
  if (!parsed.ok()) return FieldError(path, parsed.status().message());
  return std::string(parsed->text());
}

absl::StatusOr<std::string> HeaderNameAt(absl::string_view name,
                                         absl::string_view path) {
  absl::StatusOr<std::string> normalized = NormalizeVersionHeaderName(name);
  if (!normalized.ok()) return FieldError(path, normalized.status().message());
  return *normalized;
}

// Header values are matched exactly, so they must be values a call can
// carry: printable ASCII (gRPC's rule for text metadata).
absl::Status CheckHeaderValue(absl::string_view value, absl::string_view path) {
  for (const char c : value) {
    if (c < 0x20 || c > 0x7e) {
      return FieldError(path, "header values are printable ASCII only");
    }
  }
  return absl::OkStatus();
}

absl::Status ReadHeaders(const Json& headers, absl::string_view path,
                         RouteCondition* out) {
  if (!headers.is_object()) return WrongType(path, "an object", headers);
  if (headers.empty()) return FieldError(path, "names no header");
  if (headers.size() > kMaxRouteConditionHeaders) {
    return FieldError(
        path,
        absl::StrCat("more than ", kMaxRouteConditionHeaders, " headers"));
  }
  for (const auto& [name, value] : headers.items()) {
    const std::string entry = absl::StrCat(path, "[\"", name, "\"]");
    absl::StatusOr<std::string> key = HeaderNameAt(name, entry);
    if (!key.ok()) return key.status();
    absl::StatusOr<std::string> text = StringAt(value, entry);
    if (!text.ok()) return text.status();
    if (absl::Status s = CheckHeaderValue(*text, entry); !s.ok()) return s;
    out->headers.emplace_back(*std::move(key), *std::move(text));
  }
  return absl::OkStatus();
}

absl::StatusOr<RouteCondition> ReadCondition(const Json& when,
                                             absl::string_view path) {
  if (!when.is_object()) return WrongType(path, "an object", when);
  if (absl::Status s = CheckFields(
          when, path, {"version", "header", "callerService", "callerVersion"});
      !s.ok()) {
    return s;
  }
  RouteCondition c;
  if (auto it = when.find("version"); it != when.end()) {
    absl::StatusOr<std::string> v = StringAt(*it, Path(path, "version"));
    if (!v.ok()) return v.status();
    c.version = *std::move(v);
  }
  if (auto it = when.find("header"); it != when.end()) {
    if (absl::Status s = ReadHeaders(*it, Path(path, "header"), &c); !s.ok()) {
      return s;
    }
  }
  if (auto it = when.find("callerService"); it != when.end()) {
    absl::StatusOr<std::string> v = StringAt(*it, Path(path, "callerService"));
    if (!v.ok()) return v.status();
    if (v->empty()) return FieldError(Path(path, "callerService"), "is empty");
    c.caller_service = *std::move(v);
  }
  if (auto it = when.find("callerVersion"); it != when.end()) {
    absl::StatusOr<std::string> v = RequestAt(*it, Path(path, "callerVersion"));
    if (!v.ok()) return v.status();
    c.caller_version = *std::move(v);
  }
  return c;
}

absl::StatusOr<SplitTarget> ReadSplitTarget(const Json& entry,
                                            absl::string_view path) {
  if (!entry.is_object()) return WrongType(path, "an object", entry);
  if (absl::Status s = CheckFields(entry, path, {"version", "weight"});
      !s.ok()) {
    return s;
  }
  auto version = entry.find("version");
  auto weight = entry.find("weight");
  if (version == entry.end()) return FieldError(path, "version is missing");
  if (weight == entry.end()) return FieldError(path, "weight is missing");
  SplitTarget target;
  absl::StatusOr<std::string> v = RequestAt(*version, Path(path, "version"));
  if (!v.ok()) return v.status();
  target.version = *std::move(v);
  if (!weight->is_number_integer() || weight->get<int64_t>() < 0 ||
      weight->get<int64_t>() > kStickyBuckets) {
    return FieldError(Path(path, "weight"),
                      absl::StrCat("expected an integer in [0, ",
                                   kStickyBuckets, "], got ", weight->dump()));
  }
  target.weight = weight->get<uint32_t>();
  return target;
}

absl::Status ReadSplit(const Json& split, absl::string_view path,
                       RouteRule* rule) {
  if (!split.is_array()) return WrongType(path, "an array", split);
  if (split.size() < 2 || split.size() > kMaxSplitTargets) {
    return FieldError(path, absl::StrCat("needs 2 to ", kMaxSplitTargets,
                                         " entries, got ", split.size()));
  }
  uint64_t total = 0;
  for (size_t i = 0; i < split.size(); ++i) {
    absl::StatusOr<SplitTarget> target =
        ReadSplitTarget(split[i], absl::StrCat(path, "[", i, "]"));
    if (!target.ok()) return target.status();
    total += target->weight;
    rule->split.push_back(*std::move(target));
  }
  if (total == 0) return FieldError(path, "every weight is 0");
  return absl::OkStatus();
}

absl::Status ReadStrictLane(const Json& object, absl::string_view path,
                            RouteRule* rule) {
  auto it = object.find("strictLane");
  if (it == object.end()) return absl::OkStatus();
  if (!it->is_boolean()) {
    return WrongType(Path(path, "strictLane"), "a boolean", *it);
  }
  rule->strict_lane = it->get<bool>();
  return absl::OkStatus();
}

// What a rule does: at most one of "version" and "split" (with its
// optional "stickyHeader"), and "strictLane"; at least one of them.
absl::Status ReadAction(const Json& object, absl::string_view path,
                        RouteRule* rule) {
  if (absl::Status s = ReadStrictLane(object, path, rule); !s.ok()) return s;
  auto version = object.find("version");
  auto split = object.find("split");
  if (version != object.end() && split != object.end()) {
    return FieldError(path, "has both \"version\" and \"split\"");
  }
  // "strictLane": false alone would decide every call it matches (ending
  // the rule list there) while changing nothing.
  if (version == object.end() && split == object.end() && !rule->strict_lane) {
    return FieldError(path,
                      "needs \"version\", \"split\" or \"strictLane\": true");
  }
  if (version != object.end()) {
    absl::StatusOr<std::string> v = RequestAt(*version, Path(path, "version"));
    if (!v.ok()) return v.status();
    rule->version = *std::move(v);
  } else if (split != object.end()) {
    if (absl::Status s = ReadSplit(*split, Path(path, "split"), rule);
        !s.ok()) {
      return s;
    }
  }
  if (auto it = object.find("stickyHeader"); it != object.end()) {
    const std::string where = Path(path, "stickyHeader");
    if (split == object.end()) return FieldError(where, "needs a \"split\"");
    absl::StatusOr<std::string> name = StringAt(*it, where);
    if (!name.ok()) return name.status();
    absl::StatusOr<std::string> key = HeaderNameAt(*name, where);
    if (!key.ok()) return key.status();
    rule->sticky_header = *std::move(key);
  }
  return absl::OkStatus();
}

absl::StatusOr<RouteRule> ReadRule(const Json& object, absl::string_view path) {
  if (!object.is_object()) return WrongType(path, "an object", object);
  if (absl::Status s = CheckFields(
          object, path,
          {"name", "when", "version", "split", "stickyHeader", "strictLane"});
      !s.ok()) {
    return s;
  }
  RouteRule rule;
  auto name = object.find("name");
  if (name == object.end()) return FieldError(path, "name is missing");
  absl::StatusOr<std::string> n = StringAt(*name, Path(path, "name"));
  if (!n.ok()) return n.status();
  if (n->empty()) return FieldError(Path(path, "name"), "is empty");
  rule.name = *std::move(n);
  if (auto when = object.find("when"); when != object.end()) {
    absl::StatusOr<RouteCondition> c = ReadCondition(*when, Path(path, "when"));
    if (!c.ok()) return c.status();
    rule.when = *std::move(c);
  }
  if (absl::Status s = ReadAction(object, path, &rule); !s.ok()) return s;
  return rule;
}

absl::Status ReadRules(const Json& rules, RouteDocument* doc) {
  if (!rules.is_array()) return WrongType("rules", "an array", rules);
  if (rules.size() > kMaxRouteRules) {
    return FieldError("rules",
                      absl::StrCat("more than ", kMaxRouteRules, " rules"));
  }
  std::set<std::string> names;
  for (size_t i = 0; i < rules.size(); ++i) {
    const std::string path = absl::StrCat("rules[", i, "]");
    absl::StatusOr<RouteRule> rule = ReadRule(rules[i], path);
    if (!rule.ok()) return rule.status();
    // Names key the sticky hash and the logs: two rules must not share one.
    if (!names.insert(rule->name).second) {
      return FieldError(Path(path, "name"),
                        absl::StrCat("\"", rule->name, "\" is used twice"));
    }
    doc->rules.push_back(*std::move(rule));
  }
  return absl::OkStatus();
}

absl::Status ReadDefaults(const Json& root, RouteDocument* doc) {
  if (auto it = root.find("defaultVersion"); it != root.end()) {
    absl::StatusOr<std::string> v = RequestAt(*it, "defaultVersion");
    if (!v.ok()) return v.status();
    doc->default_version = *std::move(v);
  }
  if (auto it = root.find("fallback"); it != root.end()) {
    if (!it->is_array()) return WrongType("fallback", "an array", *it);
    if (it->size() > kMaxFallbacks) {
      return FieldError("fallback",
                        absl::StrCat("has ", it->size(), " entries, at most ",
                                     kMaxFallbacks, " are allowed"));
    }
    std::vector<std::string> fallback;
    for (size_t i = 0; i < it->size(); ++i) {
      absl::StatusOr<std::string> v =
          RequestAt((*it)[i], absl::StrCat("fallback[", i, "]"));
      if (!v.ok()) return v.status();
      fallback.push_back(*std::move(v));
    }
    doc->fallback = std::move(fallback);
  }
  return absl::OkStatus();
}

absl::StatusOr<Json> ParseJsonObject(absl::string_view json) {
  if (json.size() > kMaxRouteDocumentBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "route document: larger than ", kMaxRouteDocumentBytes, " bytes"));
  }
  if (JsonNestingDepth(json, kMaxNesting) > kMaxNesting) {
    return absl::InvalidArgumentError(absl::StrCat(
        "route document: nested deeper than ", kMaxNesting, " levels"));
  }
  Json root;
  try {
    root = Json::parse(json.begin(), json.end());
  } catch (const Json::exception& e) {
    // The exception text carries the position of the error.
    return absl::InvalidArgumentError(
        absl::StrCat("route document: not valid JSON: ", e.what()));
  }
  if (!root.is_object()) return WrongType("route document", "an object", root);
  return root;
}

}  // namespace

absl::StatusOr<RouteDocument> ParseRouteDocument(absl::string_view json) {
  absl::StatusOr<Json> root = ParseJsonObject(json);
  if (!root.ok()) return root.status();
  if (absl::Status s =
          CheckFields(*root, "", {"defaultVersion", "fallback", "rules"});
      !s.ok()) {
    return s;
  }
  RouteDocument doc;
  if (absl::Status s = ReadDefaults(*root, &doc); !s.ok()) return s;
  if (auto it = root->find("rules"); it != root->end()) {
    if (absl::Status s = ReadRules(*it, &doc); !s.ok()) return s;
  }
  return doc;
}

}  // namespace vlb::internal
