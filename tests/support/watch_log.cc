#include "watch_log.h"

#include "absl/strings/str_cat.h"

namespace vlb::testing {
namespace {

std::string Describe(const mvccpb::Event& event, WatchLog::Format format) {
  const bool put = event.type() == mvccpb::Event::PUT;
  if (format == WatchLog::Format::kKeyAtRevision) {
    return absl::StrCat(put ? "PUT " : "DELETE ", event.kv().key(), "@",
                        event.kv().mod_revision());
  }
  return put ? absl::StrCat("PUT ", event.kv().key(), "=", event.kv().value())
             : absl::StrCat("DELETE ", event.kv().key());
}

}  // namespace

etcd::WatchEventsCallback WatchLog::OnEvents() {
  return [this](const etcd::WatchUpdate& update) {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& event : update.events) {
      events.push_back(Describe(event, format));
    }
  };
}

etcd::WatchEndCallback WatchLog::OnEnd() {
  return [this](const absl::Status& status) {
    std::lock_guard<std::mutex> lock(mu);
    ends.push_back(status);
  };
}

size_t WatchLog::event_count() {
  std::lock_guard<std::mutex> lock(mu);
  return events.size();
}

size_t WatchLog::end_count() {
  std::lock_guard<std::mutex> lock(mu);
  return ends.size();
}

std::vector<std::string> WatchLog::Events() {
  std::lock_guard<std::mutex> lock(mu);
  return events;
}

}  // namespace vlb::testing
