// Who this process is, as a registrar knows it: the service and version of
// the first vlb::Registrar the process created. Route rules' callerService /
// callerVersion use it when the process declares no caller identity itself
// (PluginOptions::caller_service/caller_version, VLB_CALLER_SERVICE /
// VLB_CALLER_VERSION): a server that calls other services is, by default,
// the service it registers. README "Caller identity".
//
// Thread-safe (one mutex; neither is on a pick path). First writer wins:
// a process registering several services keeps the first.
#ifndef VLB_SRC_COMMON_PROCESS_IDENTITY_H_
#define VLB_SRC_COMMON_PROCESS_IDENTITY_H_

#include <string>

#include "absl/strings/string_view.h"

namespace vlb::internal {

struct RegisteredIdentity {
  std::string service;  // dotted, "hwholiday.srv.app"; empty: none yet
  std::string version;
};

// Records `service` and `version` unless an identity was recorded before.
void RecordRegisteredIdentity(absl::string_view service,
                              absl::string_view version);

RegisteredIdentity CurrentRegisteredIdentity();

}  // namespace vlb::internal

#endif  // VLB_SRC_COMMON_PROCESS_IDENTITY_H_
