#include "common/registrar_setup.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/print_line.h"

namespace vlb::programs {

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
