#include "vlbctl/watch.h"

#include <signal.h>
#include <time.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/print_line.h"
#include "common/stop_signals.h"
#include "etcd/client.h"
#include "etcd/public_options.h"
#include "nlohmann/json.hpp"
#include "vlb/admin.h"
#include "vlb/service_instance.h"
#include "vlbctl/instance_text.h"
#include "vlbctl/output.h"

ABSL_FLAG(int64_t, max_events, 0,
          "watch only: exit 0 after this many change lines (0: until "
          "interrupted)");

namespace vlb::vlbctl {
namespace {

using Json = nlohmann::json;

constexpr char kCommand[] = "vlbctl watch";

constexpr char kUsage[] =
    "Usage: vlbctl watch SERVICE [--max_events=N]\n"
    "\n"
    "Prints one line per change of SERVICE's instances as it happens, until\n"
    "interrupted (SIGINT or SIGTERM: exit 0) or, with --max_events=N, after N\n"
    "lines. It starts from a listing (announced on stderr with its revision)\n"
    "and reports every change after it, in revision order:\n"
    "\n"
    "  REVISION added ID version=V lane=L address=A weight=W drained=yes|no\n"
    "  REVISION changed ID weight=1->5 drained=no->yes    (what changed among\n"
    "           version, lane, address, weight and drained)\n"
    "  REVISION removed ID\n"
    "  REVISION malformed ID: why                 (clients skip the record)\n"
    "\n"
    "A rewrite that changes none of those fields prints nothing. With\n"
    "--output=json each line is one JSON object: {\"revision\", \"event\",\n"
    "\"service\", \"id\"} and \"instance\" (added, changed), \"before\"\n"
    "(changed) or \"error\" (malformed).\n"
    "\n"
    "Exit status: 0 interrupted or --max_events reached; 1 failed (etcd\n"
    "unreachable, the watch ended by etcd); 2 bad command line.\n";

// What one watch event means for the instances seen so far. Runs on the
// etcd client's dispatcher thread; the main thread reads `lines`/`ended`.
class ChangePrinter {
 public:
  ChangePrinter(std::string service, const ServiceListing& listing,
                OutputFormat output)
      : service_(std::move(service)),
        prefix_(ServicePrefix(service_)),
        output_(output) {
    for (const InstanceListing& instance : listing.instances) {
      known_.emplace(instance.id, instance.instance);
    }
  }

  void OnEvents(const etcd::WatchUpdate& update) {
    absl::MutexLock lock(&mu_);
    for (const mvccpb::Event& event : update.events) OnEvent(event);
  }

  void OnEnd(const absl::Status& status) {
    absl::MutexLock lock(&mu_);
    ended_ = status;
  }

  int64_t lines() {
    absl::MutexLock lock(&mu_);
    return lines_;
  }
  std::optional<absl::Status> ended() {
    absl::MutexLock lock(&mu_);
    return ended_;
  }

 private:
  void OnEvent(const mvccpb::Event& event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::string& key = event.kv().key();
    if (!absl::StartsWith(key, prefix_)) return;
    const std::string id = key.substr(prefix_.size());
    // Only <prefix><id> is an instance (README "Which records are
    // instances"); nested services' keys are not this one's.
    if (id.empty() || id.find('/') != std::string::npos) return;
    Json line = {{"revision", event.kv().mod_revision()},
                 {"service", service_},
                 {"id", id}};
    auto known = known_.find(id);
    if (event.type() == mvccpb::Event::DELETE) {
      if (known == known_.end()) return;
      known_.erase(known);
      Print(line, "removed", "");
      return;
    }
    absl::StatusOr<ServiceInstance> record =
        DecodeServiceRecord(event.kv().value());
    if (!record.ok()) {
      if (known != known_.end()) known_.erase(known);
      line["error"] = std::string(record.status().message());
      Print(line, "malformed", absl::StrCat(": ", record.status().message()));
      return;
    }
    line["instance"] = InstanceJson(*record);
    if (known == known_.end()) {
      Print(line, "added", absl::StrCat(" ", InstanceText(*record)));
      known_.emplace(id, *std::move(record));
      return;
    }
    const std::string changed = ChangedFields(known->second, *record);
    if (changed.empty()) {
      known->second = *std::move(record);
      return;
    }
    line["before"] = InstanceJson(known->second);
    known->second = *std::move(record);
    Print(line, "changed", absl::StrCat(" ", changed));
  }

  void Print(Json& line, const std::string& event, const std::string& details)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ++lines_;
    line["event"] = event;
    if (output_ == OutputFormat::kJson) {
      PrintOut(absl::StrCat(
          line.dump(-1, ' ', false, Json::error_handler_t::replace), "\n"));
      return;
    }
    PrintOut(absl::StrCat(line["revision"].get<int64_t>(), " ", event, " ",
                          line["id"].get<std::string>(), details, "\n"));
  }

  const std::string service_;
  const std::string prefix_;
  const OutputFormat output_;
  absl::Mutex mu_;
  std::map<std::string, ServiceInstance> known_ ABSL_GUARDED_BY(mu_);
  int64_t lines_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<absl::Status> ended_ ABSL_GUARDED_BY(mu_);
};

// Whether SIGINT or SIGTERM (blocked) arrived within `wait`.
bool StopSignalWithin(absl::Duration wait) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  const timespec timeout = absl::ToTimespec(wait);
  return sigtimedwait(&signals, nullptr, &timeout) > 0;
}

// Waits for a stop signal, --max_events lines or the end of the watch.
int WaitUntilDone(ChangePrinter& printer, int64_t max_events,
                  const std::string& service) {
  while (true) {
    if (max_events > 0 && printer.lines() >= max_events) return kExitOk;
    if (std::optional<absl::Status> ended = printer.ended()) {
      return Fail(absl::StrCat("watch ", service), *ended);
    }
    // Polled: sigtimedwait is the one wait that also sees the signals.
    if (StopSignalWithin(absl::Milliseconds(50))) return kExitOk;
  }
}

absl::StatusOr<ServiceListing> InitialListing(const Invocation& invocation,
                                              const std::string& service) {
  absl::StatusOr<std::unique_ptr<AdminClient>> admin =
      AdminClient::Create(invocation.etcd);
  if (!admin.ok()) return admin.status();
  return (*admin)->ListInstances(service);
}

int Run(const Invocation& invocation) {
  if (invocation.operands.size() != 1) {
    return UsageError(kCommand, "usage: vlbctl watch SERVICE");
  }
  const std::string& service = invocation.operands[0];
  if (absl::Status valid = ValidateServiceName(service); !valid.ok()) {
    return UsageError(kCommand, absl::StrCat("SERVICE: ", valid.message()));
  }
  const int64_t max_events = absl::GetFlag(FLAGS_max_events);
  if (max_events < 0) {
    return UsageError(kCommand,
                      absl::StrCat("--max_events: ", max_events, " < 0"));
  }
  // Before any client thread starts, so that only sigtimedwait sees them.
  programs::BlockStopSignals();
  const std::string what = absl::StrCat("watch ", service);
  absl::StatusOr<ServiceListing> listing = InitialListing(invocation, service);
  if (!listing.ok()) return Fail(what, listing.status());
  absl::StatusOr<etcd::ClientOptions> options = internal::MakeClientOptions(
      invocation.etcd, absl::Milliseconds(100), absl::Seconds(5));
  if (!options.ok()) return Fail(what, options.status());
  absl::StatusOr<std::unique_ptr<etcd::Client>> client =
      etcd::Client::Create(*options);
  if (!client.ok()) return Fail(what, client.status());
  ChangePrinter printer(service, *listing, invocation.output);
  const std::string prefix = ServicePrefix(service);
  (*client)->Watch(
      {prefix, etcd::PrefixRangeEnd(prefix), listing->revision + 1},
      [&printer](const etcd::WatchUpdate& update) { printer.OnEvents(update); },
      [&printer](const absl::Status& status) { printer.OnEnd(status); });
  programs::PrintLine(
      stderr, absl::StrCat("vlbctl: watching ", service, " from revision ",
                           listing->revision, " (", listing->instances.size(),
                           " instances)"));
  const int exit_code = WaitUntilDone(printer, max_events, service);
  (*client)->Close();  // no callback runs after this
  return exit_code;
}

}  // namespace

Command WatchCommand() {
  return {"watch",
          "one line per change of a service's instances",
          kUsage,
          {"max_events"},
          Run};
}

}  // namespace vlb::vlbctl
