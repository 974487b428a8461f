#include "common/registrar_setup.h"

#include <cstdint>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/etcd_flags.h"

namespace vlb::programs {

void AddRegistrarFlags(FlagSet* flags, RegistrarOptions* options) {
  AddEtcdFlags(flags, &options->etcd);
  flags->AddString("service", &options->service_name);
  // Empty is the registrar's "generate one", which --id= surely did not mean.
  flags->Add("id", [options](absl::string_view value) {
    if (value.empty()) {
      return absl::InvalidArgumentError("--id: must not be empty");
    }
    options->instance_id = std::string(value);
    return absl::OkStatus();
  });
  flags->AddString("version", &options->version);
  flags->Add("weight", [options](absl::string_view value) {
    absl::StatusOr<int64_t> weight =
        FlagSet::ParseInt("weight", value, std::numeric_limits<int64_t>::min(),
                          std::numeric_limits<int64_t>::max());
    if (!weight.ok()) return weight.status();
    // What does not fit the field cannot reach the registrar's check, so
    // it gets the registrar's message here.
    if (*weight < 0 || *weight > std::numeric_limits<uint32_t>::max()) {
      return absl::InvalidArgumentError(
          absl::StrCat("weight: ", *weight, " is out of range [", kMinWeight,
                       ", ", kMaxWeight, "]"));
    }
    options->weight = static_cast<uint32_t>(*weight);
    return absl::OkStatus();
  });
  flags->Add("ttl_seconds", [options](absl::string_view value) {
    absl::StatusOr<int64_t> ttl = FlagSet::ParseInt(
        "ttl_seconds", value, std::numeric_limits<int64_t>::min(),
        std::numeric_limits<int64_t>::max());
    if (!ttl.ok()) return ttl.status();
    options->ttl = absl::Seconds(*ttl);
    return absl::OkStatus();
  });
}

std::string DescribeEvent(const Registrar& registrar, RegistrarEvent event,
                          const absl::Status& detail) {
  std::string line = RegistrarEventName(event);
  switch (event) {
    case RegistrarEvent::kRegistered:
    case RegistrarEvent::kReRegistered:
      absl::StrAppend(&line, " ", registrar.key(),
                      " lease=", registrar.lease_id());
      break;
    case RegistrarEvent::kLost:
    case RegistrarEvent::kConflict:
      absl::StrAppend(&line, ": ", detail.ToString());
      break;
    case RegistrarEvent::kStopped:
      if (!detail.ok()) absl::StrAppend(&line, ": ", detail.ToString());
      break;
  }
  return line;
}

absl::StatusOr<std::unique_ptr<Registrar>> CreatePrintingRegistrar(
    RegistrarOptions options, std::FILE* stream, absl::string_view prefix) {
  // The callback needs the registrar, which exists only once Create returns;
  // that is early enough because events only start with Start().
  auto registrar_for_events = std::make_shared<const Registrar*>(nullptr);
  absl::StatusOr<std::unique_ptr<Registrar>> registrar = Registrar::Create(
      std::move(options),
      [registrar_for_events, stream, prefix = std::string(prefix)](
          RegistrarEvent event, const absl::Status& detail) {
        PrintLine(stream,
                  absl::StrCat(prefix, DescribeEvent(**registrar_for_events,
                                                     event, detail)));
      });
  if (registrar.ok()) *registrar_for_events = registrar->get();
  return registrar;
}

}  // namespace vlb::programs
