#include "vlbctl/explain.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "vlb/explain.h"
#include "vlb/service_instance.h"
#include "vlbctl/output.h"
#include "vlbctl/routes.h"

ABSL_FLAG(std::optional<std::string>, version, std::nullopt,
          "explain only: the call's version request (its version header); "
          "absent: the call sends none");
ABSL_FLAG(std::vector<std::string>, header, {},
          "explain only: KEY=VALUE call metadata, for route rules' "
          "when.header and sticky splits (repeat the flag or join with ',')");
ABSL_FLAG(std::string, lane, "", "explain only: the call's lane");
ABSL_FLAG(std::string, caller, "",
          "explain only: SERVICE@VERSION of the calling process, for caller "
          "rules");
ABSL_FLAG(std::string, default_version, "",
          "explain only: the client's local defaultVersion");
ABSL_FLAG(std::vector<std::string>, fallback, {},
          "explain only: the client's local fallback list");
ABSL_FLAG(std::vector<std::string>, strict_lanes, {},
          "explain only: the client's local strictLanes");

namespace vlb::vlbctl {
namespace {

using Json = nlohmann::json;

constexpr char kCommand[] = "vlbctl explain";

constexpr char kUsage[] =
    "Usage: vlbctl explain SERVICE [--version=V] [--header=K=V ...]\n"
    "                      [--lane=L] [--caller=SERVICE@VERSION]\n"
    "\n"
    "Where a call to SERVICE would go, and why: the route rule that decides\n"
    "it, the version request that results (and the fallback that served),\n"
    "the lane outcome, and for each registered instance whether it is\n"
    "eligible or why not (wrong version, drained, lane). It runs the\n"
    "clients' own rule engine and pick table over the instances in etcd, as\n"
    "if every instance were connected; --default_version, --fallback and\n"
    "--strict_lanes stand for the client's local config, which the route\n"
    "document overrides as in a client.\n"
    "\n"
    "Exit status: 0 explained (also when the call would fail: OUTCOME says\n"
    "so); 1 failed (etcd unreachable); 2 bad command line.\n";

absl::StatusOr<ExplainedCall> CallFromFlags() {
  ExplainedCall call;
  call.version = absl::GetFlag(FLAGS_version);
  call.lane = absl::GetFlag(FLAGS_lane);
  for (const std::string& entry : absl::GetFlag(FLAGS_header)) {
    const size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--header: \"", entry, "\" is not KEY=VALUE"));
    }
    call.headers.emplace_back(absl::AsciiStrToLower(entry.substr(0, eq)),
                              entry.substr(eq + 1));
  }
  const std::string caller = absl::GetFlag(FLAGS_caller);
  if (!caller.empty()) {
    const size_t at = caller.rfind('@');
    if (at == std::string::npos || at == 0 || at + 1 == caller.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--caller: \"", caller, "\" is not SERVICE@VERSION"));
    }
    call.caller_service = caller.substr(0, at);
    call.caller_version = caller.substr(at + 1);
  }
  call.policy.default_version = absl::GetFlag(FLAGS_default_version);
  call.policy.fallback = absl::GetFlag(FLAGS_fallback);
  call.policy.strict_lanes = absl::GetFlag(FLAGS_strict_lanes);
  return call;
}

std::string Quoted(absl::string_view text) {
  return absl::StrCat("\"", text, "\"");
}

std::string RouteLine(const Explanation& e) {
  if (e.route_revision == 0) return "none";
  std::string line = absl::StrCat("revision ", e.route_revision);
  if (!e.route_error.empty()) {
    absl::StrAppend(&line, ", invalid (not applied): ", e.route_error);
  }
  return line;
}

std::string RequestLine(const Explanation& e) {
  std::string line = e.request.empty() ? "every version" : Quoted(e.request);
  absl::StrAppend(&line, " (from ", e.source, ")");
  if (!e.fallback.empty()) {
    absl::StrAppend(&line, ", served by fallback ", Quoted(e.fallback));
  }
  return line;
}

std::string Summary(const Explanation& e) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"SERVICE", e.service});
  rows.push_back({"ROUTES", RouteLine(e)});
  std::string rule = e.rule.empty() ? "none" : e.rule;
  if (e.bucket >= 0) absl::StrAppend(&rule, " (sticky bucket ", e.bucket, ")");
  rows.push_back({"RULE", rule});
  rows.push_back({"REQUEST", RequestLine(e)});
  if (!e.lane.empty() || !e.lane_outcome.empty()) {
    rows.push_back({"LANE", absl::StrCat(e.lane.empty() ? "-" : e.lane, ": ",
                                         e.lane_outcome,
                                         e.strict_lane ? " (strict)" : "")});
  }
  rows.push_back({"OUTCOME", e.outcome});
  std::string out;
  for (const auto& row : rows) {
    absl::StrAppend(&out, row[0], std::string(10 - row[0].size(), ' '), row[1],
                    "\n");
  }
  return out;
}

std::string InstanceTable(const Explanation& e) {
  std::vector<std::vector<std::string>> rows;
  for (const InstanceVerdict& v : e.instances) {
    rows.push_back({v.id, v.version, v.lane.empty() ? "-" : v.lane, v.address,
                    absl::StrCat(v.weight), v.drained ? "yes" : "no",
                    v.eligible ? "yes" : "no", v.eligible ? "" : v.reason});
  }
  return Table({"ID", "VERSION", "LANE", "ADDRESS", "WEIGHT", "DRAINED",
                "ELIGIBLE", "WHY NOT"},
               rows);
}

Json ExplanationJson(const Explanation& e) {
  Json instances = Json::array();
  for (const InstanceVerdict& v : e.instances) {
    instances.push_back({{"id", v.id},
                         {"version", v.version},
                         {"lane", v.lane},
                         {"address", v.address},
                         {"weight", v.weight},
                         {"drained", v.drained},
                         {"eligible", v.eligible},
                         {"reason", v.reason}});
  }
  return {{"service", e.service},
          {"route_revision", e.route_revision},
          {"route_error", e.route_error},
          {"rule", e.rule},
          {"bucket", e.bucket},
          {"request", e.request},
          {"source", e.source},
          {"fallback", e.fallback},
          {"lane", e.lane},
          {"lane_outcome", e.lane_outcome},
          {"strict_lane", e.strict_lane},
          {"outcome", e.outcome},
          {"instances", instances}};
}

int Explain(const Invocation& invocation) {
  if (invocation.operands.size() != 1) {
    return UsageError(kCommand, "usage: vlbctl explain SERVICE [FLAGS]");
  }
  const std::string& service = invocation.operands[0];
  if (absl::Status valid = ValidateServiceName(service); !valid.ok()) {
    return UsageError(kCommand, absl::StrCat("SERVICE: ", valid.message()));
  }
  absl::StatusOr<ExplainedCall> call = CallFromFlags();
  if (!call.ok()) return UsageError(kCommand, call.status().message());
  absl::StatusOr<Explanation> e = ExplainCall(invocation.etcd, service, *call,
                                              absl::GetFlag(FLAGS_routes_root));
  const std::string what = absl::StrCat("explain ", service);
  if (absl::IsInvalidArgument(e.status())) {
    return UsageError(kCommand, e.status().message());
  }
  if (!e.ok()) return Fail(what, e.status());
  if (invocation.output == OutputFormat::kJson) {
    PrintJson(ExplanationJson(*e));
  } else {
    PrintOut(absl::StrCat(Summary(*e), "\n", InstanceTable(*e)));
  }
  return kExitOk;
}

}  // namespace

Command ExplainCommand() {
  return {"explain",
          "why a call would go where it goes (rule, request, eligibility)",
          kUsage,
          {"version", "header", "lane", "caller", "default_version", "fallback",
           "strict_lanes", "routes_root"},
          Explain};
}

}  // namespace vlb::vlbctl
