#include "vlbctl/instances.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "vlb/admin.h"
#include "vlb/service_instance.h"
#include "vlbctl/instance_text.h"
#include "vlbctl/output.h"

namespace vlb::vlbctl {
namespace {

using Json = nlohmann::json;

constexpr char kListUsage[] =
    "Usage: vlbctl list [SERVICE]\n"
    "\n"
    "The instances registered in etcd: of SERVICE (dotted, e.g.\n"
    "hwholiday.srv.app), or of every service found when no SERVICE is given.\n"
    "\n"
    "Table columns: SERVICE, ID, VERSION, LANE (- for the baseline), ADDRESS,\n"
    "WEIGHT, DRAINED, TTL (lease time left in seconds; - without a lease or\n"
    "when it just expired), CREATED and MODIFIED (the store revisions at "
    "which\n"
    "the record was created and last written) and AGE (revisions since the\n"
    "last write: etcd keeps no timestamps, so a record's age is counted in\n"
    "revisions). Records under a service that are not usable instances are\n"
    "listed after the table as \"skipped KEY: why\".\n"
    "--output=json prints {\"services\": [{\"service\", \"revision\",\n"
    "\"instances\": [...], \"skipped\": [...]}]} with the same fields.\n"
    "\n"
    "Exit status: 0 done (also when there are no instances); 1 failed (etcd\n"
    "unreachable); 2 bad command line.\n";

constexpr char kDrainUsage[] =
    "Usage: vlbctl drain SERVICE ID\n"
    "\n"
    "Marks instance ID of SERVICE drained: clients send it no new calls while\n"
    "another matching instance is ready. The record is changed in place under\n"
    "its lease (a compare-and-swap on its revision), so the instance stays\n"
    "registered, and its registrar keeps the drain through its own rewrites\n"
    "until `vlbctl undrain`.\n"
    "\n"
    "Exit status: 0 done (also when it was drained already); 1 failed (no "
    "such\n"
    "instance, a malformed record, etcd unreachable); 2 bad command line.\n";

constexpr char kUndrainUsage[] =
    "Usage: vlbctl undrain SERVICE ID\n"
    "\n"
    "Clears the drain of instance ID of SERVICE (see vlbctl drain --help):\n"
    "clients send it calls again. Changed in place, keeping its lease.\n"
    "\n"
    "Exit status: 0 done (also when it was not drained); 1 failed (no such\n"
    "instance, a malformed record, etcd unreachable); 2 bad command line.\n";

constexpr char kWeightUsage[] =
    "Usage: vlbctl weight SERVICE ID N\n"
    "\n"
    "Sets the weight of instance ID of SERVICE to N, an integer in\n"
    "[0, 10000] (weighted_round_robin sends it a share of calls in "
    "proportion;\n"
    "0: only when no other instance is left). Changed in place, keeping its\n"
    "lease; its registrar keeps the weight until it is set again.\n"
    "\n"
    "Exit status: 0 done; 1 failed (no such instance, a malformed record,\n"
    "etcd unreachable); 2 bad command line (including a bad N).\n";

absl::StatusOr<std::unique_ptr<AdminClient>> Admin(
    const Invocation& invocation) {
  return AdminClient::Create(invocation.etcd);
}

// The TTL column: whole seconds, or "-".
std::string TtlCell(const InstanceListing& listing) {
  if (!listing.lease_ttl_left.has_value()) return "-";
  return absl::StrCat(absl::ToInt64Seconds(*listing.lease_ttl_left));
}

std::vector<std::string> Row(const ServiceListing& service,
                             const InstanceListing& listing) {
  const ServiceInstance& instance = listing.instance;
  return {service.service,
          listing.id,
          instance.version,
          instance.lane.empty() ? "-" : instance.lane,
          instance.address,
          absl::StrCat(instance.weight),
          instance.drained ? "yes" : "no",
          TtlCell(listing),
          absl::StrCat(listing.create_revision),
          absl::StrCat(listing.mod_revision),
          absl::StrCat(service.revision - listing.mod_revision)};
}

Json ListingJson(const ServiceListing& service,
                 const InstanceListing& listing) {
  Json out = InstanceJson(listing.instance);
  out["id"] = listing.id;
  out["key"] = listing.key;
  out["lease_id"] = listing.lease_id;
  out["lease_ttl_left_seconds"] =
      listing.lease_ttl_left.has_value()
          ? Json(absl::ToInt64Seconds(*listing.lease_ttl_left))
          : Json(nullptr);
  out["create_revision"] = listing.create_revision;
  out["mod_revision"] = listing.mod_revision;
  out["age_revisions"] = service.revision - listing.mod_revision;
  return out;
}

Json ServiceJson(const ServiceListing& service) {
  Json instances = Json::array();
  for (const InstanceListing& listing : service.instances) {
    instances.push_back(ListingJson(service, listing));
  }
  Json skipped = Json::array();
  for (const SkippedRecord& record : service.skipped) {
    skipped.push_back(
        {{"key", record.key}, {"error", std::string(record.error.message())}});
  }
  return {{"service", service.service},
          {"revision", service.revision},
          {"instances", instances},
          {"skipped", skipped}};
}

void PrintListings(const Invocation& invocation,
                   const std::vector<ServiceListing>& services) {
  if (invocation.output == OutputFormat::kJson) {
    Json out = {{"services", Json::array()}};
    for (const ServiceListing& service : services) {
      out["services"].push_back(ServiceJson(service));
    }
    PrintJson(out);
    return;
  }
  std::vector<std::vector<std::string>> rows;
  std::string skipped;
  for (const ServiceListing& service : services) {
    for (const InstanceListing& listing : service.instances) {
      rows.push_back(Row(service, listing));
    }
    for (const SkippedRecord& record : service.skipped) {
      absl::StrAppend(&skipped, "skipped ", record.key, ": ",
                      record.error.message(), "\n");
    }
  }
  PrintOut(absl::StrCat(
      Table({"SERVICE", "ID", "VERSION", "LANE", "ADDRESS", "WEIGHT", "DRAINED",
             "TTL", "CREATED", "MODIFIED", "AGE"},
            rows),
      skipped));
}

int List(const Invocation& invocation) {
  if (invocation.operands.size() > 1) {
    return UsageError("vlbctl list", "usage: vlbctl list [SERVICE]");
  }
  const bool all = invocation.operands.empty();
  if (!all) {
    if (absl::Status valid = ValidateServiceName(invocation.operands[0]);
        !valid.ok()) {
      return UsageError("vlbctl list",
                        absl::StrCat("SERVICE: ", valid.message()));
    }
  }
  const std::string what =
      all ? "list" : absl::StrCat("list ", invocation.operands[0]);
  absl::StatusOr<std::unique_ptr<AdminClient>> admin = Admin(invocation);
  if (!admin.ok()) return Fail(what, admin.status());
  std::vector<ServiceListing> services;
  if (all) {
    absl::StatusOr<std::vector<ServiceListing>> found =
        (*admin)->ListServices();
    if (!found.ok()) return Fail(what, found.status());
    services = *std::move(found);
  } else {
    absl::StatusOr<ServiceListing> found =
        (*admin)->ListInstances(invocation.operands[0]);
    if (!found.ok()) return Fail(what, found.status());
    services.push_back(*std::move(found));
  }
  PrintListings(invocation, services);
  return kExitOk;
}

// Checks `vlbctl <command> SERVICE ID ...` with `extra` more operands.
absl::Status CheckInstanceOperands(const Invocation& invocation,
                                   const std::string& usage, size_t extra) {
  if (invocation.operands.size() != 2 + extra) {
    return absl::InvalidArgumentError(absl::StrCat("usage: ", usage));
  }
  if (absl::Status valid = ValidateServiceName(invocation.operands[0]);
      !valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("SERVICE: ", valid.message()));
  }
  if (absl::Status valid = ValidateInstanceId(invocation.operands[1]);
      !valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("ID: ", valid.message()));
  }
  return absl::OkStatus();
}

// Prints what an edit did: `text` and a newline, or the JSON of `fields`
// with the instance's service and id.
void PrintEdited(const Invocation& invocation, const std::string& text,
                 const Json& fields) {
  const std::string& service = invocation.operands[0];
  const std::string& id = invocation.operands[1];
  if (invocation.output == OutputFormat::kJson) {
    Json out = {{"service", service}, {"id", id}};
    out.update(fields);
    PrintJson(out);
    return;
  }
  PrintOut(absl::StrCat(text, "\n"));
}

int SetDrained(const Invocation& invocation, bool drained) {
  const std::string command = drained ? "drain" : "undrain";
  const std::string usage = absl::StrCat("vlbctl ", command, " SERVICE ID");
  if (absl::Status valid = CheckInstanceOperands(invocation, usage, 0);
      !valid.ok()) {
    return UsageError(absl::StrCat("vlbctl ", command), valid.message());
  }
  const std::string& service = invocation.operands[0];
  const std::string& id = invocation.operands[1];
  const std::string what = absl::StrCat(command, " ", service, " ", id);
  absl::StatusOr<std::unique_ptr<AdminClient>> admin = Admin(invocation);
  if (!admin.ok()) return Fail(what, admin.status());
  if (absl::Status done = (*admin)->SetDrained(service, id, drained);
      !done.ok()) {
    return Fail(what, done);
  }
  PrintEdited(invocation,
              absl::StrCat(drained ? "drained" : "undrained", " instance ", id,
                           " of ", service),
              {{"drained", drained}});
  return kExitOk;
}

int Drain(const Invocation& invocation) { return SetDrained(invocation, true); }
int Undrain(const Invocation& invocation) {
  return SetDrained(invocation, false);
}

int Weight(const Invocation& invocation) {
  constexpr char kCommand[] = "vlbctl weight";
  if (absl::Status valid =
          CheckInstanceOperands(invocation, "vlbctl weight SERVICE ID N", 1);
      !valid.ok()) {
    return UsageError(kCommand, valid.message());
  }
  const std::string& service = invocation.operands[0];
  const std::string& id = invocation.operands[1];
  const std::string& text = invocation.operands[2];
  uint32_t weight = 0;
  if (!absl::SimpleAtoi(text, &weight) || weight > kMaxWeight ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return UsageError(kCommand,
                      absl::StrCat("N: \"", text, "\" is not an integer in [",
                                   kMinWeight, ", ", kMaxWeight, "]"));
  }
  const std::string what = absl::StrCat("weight ", service, " ", id);
  absl::StatusOr<std::unique_ptr<AdminClient>> admin = Admin(invocation);
  if (!admin.ok()) return Fail(what, admin.status());
  if (absl::Status done = (*admin)->SetWeight(service, id, weight);
      !done.ok()) {
    return Fail(what, done);
  }
  PrintEdited(invocation,
              absl::StrCat("set the weight of instance ", id, " of ", service,
                           " to ", weight),
              {{"weight", weight}});
  return kExitOk;
}

}  // namespace

Command ListCommand() {
  return {"list",
          "the instances of a service, or of every service",
          kListUsage,
          {},
          List};
}

Command DrainCommand() {
  return {"drain",
          "drain an instance: no new calls, registration kept",
          kDrainUsage,
          {},
          Drain};
}

Command UndrainCommand() {
  return {"undrain", "undo a drain", kUndrainUsage, {}, Undrain};
}

Command WeightCommand() {
  return {
      "weight", "set an instance's weight in place", kWeightUsage, {}, Weight};
}

}  // namespace vlb::vlbctl
