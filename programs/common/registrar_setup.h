// Registrar output shared by the programs that register an instance
// (vlb_register, vlb_example_server): the line printed for each registrar
// event.
#ifndef VLB_PROGRAMS_COMMON_REGISTRAR_SETUP_H_
#define VLB_PROGRAMS_COMMON_REGISTRAR_SETUP_H_

#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vlb/registrar.h"

namespace vlb::programs {

// "<event name>", followed by the key and lease for (re)registrations and by
// the cause for losses, conflicts and failed stops.
std::string DescribeEvent(const Registrar& registrar, RegistrarEvent event,
                          const absl::Status& detail);

// Registrar::Create with an event callback that prints
// "<prefix><DescribeEvent(...)>" with PrintLine on `stream`.
absl::StatusOr<std::unique_ptr<Registrar>> CreatePrintingRegistrar(
    RegistrarOptions options, std::FILE* stream, absl::string_view prefix);

}  // namespace vlb::programs

#endif  // VLB_PROGRAMS_COMMON_REGISTRAR_SETUP_H_
