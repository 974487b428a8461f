// WatchLog: what an etcd watch delivered, one line per event, and how it
// ended, for tests of the etcd client.
//
// Thread-safe: the client's threads append through the callbacks while the
// test thread reads through the accessors, or reads `events` and `ends`
// directly while it holds `mu`. Each event costs one string.
#ifndef VLB_TESTS_SUPPORT_WATCH_LOG_H_
#define VLB_TESTS_SUPPORT_WATCH_LOG_H_

#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "etcd/client.h"

namespace vlb::testing {

struct WatchLog {
  // How an event is written down.
  enum class Format {
    kKeyValue,       // "PUT <key>=<value>" / "DELETE <key>"
    kKeyAtRevision,  // "PUT <key>@<mod revision>" / "DELETE <key>@<rev>"
  };

  explicit WatchLog(Format format = Format::kKeyValue) : format(format) {}

  // The callbacks to pass to etcd::Client::Watch(); they refer to this log,
  // which must outlive the watch.
  etcd::WatchEventsCallback OnEvents();
  etcd::WatchEndCallback OnEnd();

  size_t event_count();
  size_t end_count();
  std::vector<std::string> Events();

  const Format format;
  std::mutex mu;
  std::vector<std::string> events;  // mu
  std::vector<absl::Status> ends;   // mu
};

}  // namespace vlb::testing

#endif  // VLB_TESTS_SUPPORT_WATCH_LOG_H_
