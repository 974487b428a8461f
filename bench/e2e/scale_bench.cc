// scale_bench: discovery of one service with many instances (10,000 by
// default) by a new client.
//
// The records are written straight into etcd, with addresses on loopback
// where nothing listens (127.1.x.y:9), so the client's connection attempts
// are refused at once instead of hanging. Two client paths are timed:
//   watcher: vlb's ServiceWatcher alone (a new etcd client, the prefix read,
//            the decoding of every record) until its first snapshot holds
//            every instance;
//   channel: a new etcd:/// channel with vlb_version until its first picker
//            exists. The signal is a call asking for a version no instance
//            has: it waits (queued in the channel) until the policy
//            publishes a picker, which then fails it with "no instance ...
//            matches version", listing the versions it knows. The resolver
//            delivers the whole first read as one update, so that picker
//            covers every instance.
// Memory per instance is the heap growth (mallinfo2) while the client
// exists, divided by the instance count; for the channel it is measured
// once the heap stops growing, with every subchannel created.
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api.grpc.pb.h"
#include "bench_support.h"
#include "discovery/service_watcher.h"
#include "etcd/client.h"
#include "grpcpp/grpcpp.h"
#include "vlb/grpc.h"
#include "vlb/service_instance.h"

// FakeAddress() has 250 x 200 distinct hosts.
ABSL_FLAG(int, instances, 10000, "instances to register, in [1, 50000]");
ABSL_FLAG(int, repeats, 5, "discoveries timed, in [1, 1000]");
ABSL_FLAG(std::string, json_out, "", "also write the JSON line to this file");

namespace vlb::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kUsage[] =
    "Usage: scale_bench [--instances=N] [--repeats=R] [--json_out=FILE]\n"
    "\n"
    "Registers N instances of one service directly in a\n"
    "private etcd, then times R times how long a new client\n"
    "takes to discover them (ServiceWatcher alone, and a whole etcd:///\n"
    "channel) and how much heap it holds per instance.\n";

// etcd's default limit is 128 operations per transaction.
constexpr int kPutsPerTxn = 100;

double MillisBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// Heap bytes in use: the arenas plus the large blocks malloc mmaps.
int64_t HeapInUse() {
  struct mallinfo2 info = mallinfo2();
  return static_cast<int64_t>(info.uordblks + info.hblkhd);
}

// The 127/8 block is all loopback on Linux: distinct hosts give distinct
// subchannels, and port 9 (discard) has no listener, so connects fail fast.
std::string FakeAddress(int i) {
  return absl::StrFormat("127.1.%d.%d:9", i / 200, 1 + i % 200);
}

void Populate(const std::string& endpoint, int instances) {
  etcd::ClientOptions options;
  options.endpoints = {endpoint};
  auto client = etcd::Client::Create(options);
  if (!client.ok()) Die("etcd client", client.status());
  for (int first = 0; first < instances; first += kPutsPerTxn) {
    etcdserverpb::TxnRequest txn;
    for (int i = first; i < std::min(instances, first + kPutsPerTxn); ++i) {
      ServiceInstance instance;
      instance.name = ServiceShortName(kService);
      instance.path = ServicePath(kService);
      instance.id = absl::StrFormat("app-%05d", i);
      instance.version = "v1";
      instance.address = FakeAddress(i);
      etcdserverpb::PutRequest* put = txn.add_success()->mutable_request_put();
      put->set_key(InstanceKey(kService, instance.id));
      put->set_value(EncodeServiceRecord(instance));
    }
    if (auto response = (*client)->Txn(txn); !response.ok()) {
      Die("populate txn", response.status());
    }
  }
}

// A destroyed channel frees its subchannels asynchronously; the next
// repeat's baseline must not include them (nor their freeing its growth).
void WaitForHeapToSettle() {
  int64_t last = HeapInUse();
  for (int i = 0; i < 100; ++i) {
    absl::SleepFor(absl::Milliseconds(200));
    const int64_t now = HeapInUse();
    if (std::abs(now - last) < 64 * 1024) return;
    last = now;
  }
}

struct Measure {
  double millis = 0;
  double bytes_per_instance = 0;
};

Measure MeasureWatcher(const std::string& endpoint, int instances) {
  const int64_t heap_before = HeapInUse();
  const Clock::time_point begin = Clock::now();
  etcd::ClientOptions options;
  options.endpoints = {endpoint};
  auto created = etcd::Client::Create(options);
  if (!created.ok()) Die("etcd client", created.status());
  std::shared_ptr<etcd::Client> client = *std::move(created);

  std::mutex mu;
  std::condition_variable cv;
  bool complete = false;
  Clock::time_point complete_at;
  internal::ServiceWatcher::Callbacks callbacks;
  callbacks.on_snapshot = [&](const internal::ServiceSnapshot& snapshot) {
    if (static_cast<int>(snapshot.instances.size()) < instances) return;
    std::lock_guard<std::mutex> lock(mu);
    complete = true;
    complete_at = Clock::now();
    cv.notify_all();
  };
  callbacks.on_read_error = [](const absl::Status& status, bool) {
    std::fprintf(stderr, "watcher read error: %s\n", status.ToString().c_str());
  };
  internal::ServiceWatcher watcher(client, kService, std::move(callbacks));
  watcher.Start();
  {
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(60),
                     [&] { return complete; })) {
      Die("watcher", absl::DeadlineExceededError(
                         "no snapshot with every instance within 60 s"));
    }
  }
  Measure measure;
  measure.millis = MillisBetween(begin, complete_at);
  measure.bytes_per_instance =
      static_cast<double>(HeapInUse() - heap_before) / instances;
  watcher.Stop();
  client->Close();
  return measure;
}

Measure MeasureChannel(const std::string& endpoint, int instances,
                       std::string* failure_message) {
  const int64_t heap_before = HeapInUse();
  const Clock::time_point begin = Clock::now();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      vlb::CreateChannel(absl::StrCat("etcd://", endpoint, "/", kService),
                         grpc::InsecureChannelCredentials());
  if (!channel.ok()) Die("vlb::CreateChannel", channel.status());
  std::unique_ptr<api::Api::Stub> stub = api::Api::NewStub(*channel);
  grpc::ClientContext context;
  if (absl::Status s = SetVersion(&context, "v9"); !s.ok()) {
    Die("vlb::SetVersion", s);
  }
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  api::Request request;
  api::Response response;
  grpc::Status status = stub->ApiTest(&context, request, &response);
  const Clock::time_point resolved_at = Clock::now();
  *failure_message = status.error_message();
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE ||
      status.error_message().find("matches version") == std::string::npos) {
    Die("channel", absl::UnknownError(absl::StrCat(
                       "expected the policy's no-match failure, got ",
                       status.error_code(), " ", status.error_message())));
  }
  // Subchannels connect (and fail) asynchronously; the heap figure should
  // be the steady state, not a snapshot mid-creation.
  WaitForHeapToSettle();
  Measure measure;
  measure.millis = MillisBetween(begin, resolved_at);
  measure.bytes_per_instance =
      static_cast<double>(HeapInUse() - heap_before) / instances;
  return measure;
}

std::string MeasuresJson(const std::vector<Measure>& runs) {
  std::vector<double> millis, bytes;
  for (const Measure& m : runs) {
    millis.push_back(m.millis);
    bytes.push_back(m.bytes_per_instance);
  }
  std::vector<std::string> each;
  for (double m : millis) each.push_back(Num(m));
  return absl::StrCat("{\"ms\":", Num(Median(millis)),
                      ",\"bytes_per_instance\":", Num(Median(bytes)),
                      ",\"runs_ms\":[", absl::StrJoin(each, ","), "]}");
}

int Run(int argc, char** argv) {
  ParseFlagsOrExit(kUsage, argc, argv);
  const int instances = absl::GetFlag(FLAGS_instances);
  const int repeats = absl::GetFlag(FLAGS_repeats);
  const std::string json_out = absl::GetFlag(FLAGS_json_out);
  ExitOnBadValue(
      "scale_bench",
      {programs::CheckFlagRange("instances", instances, 1, 250 * 200),
       programs::CheckFlagRange("repeats", repeats, 1, 1000)});
  RegisterPluginsOrDie();
  std::unique_ptr<testing::EtcdProcess> etcd = StartEtcdOrDie();

  const Clock::time_point populate_begin = Clock::now();
  Populate(etcd->endpoint(), instances);
  const double populate_ms = MillisBetween(populate_begin, Clock::now());
  std::printf("populated %d instances in %.1f ms\n", instances, populate_ms);

  std::vector<Measure> watcher_runs, channel_runs;
  std::string failure_message;
  for (int r = 0; r < repeats; ++r) {
    watcher_runs.push_back(MeasureWatcher(etcd->endpoint(), instances));
    std::printf("repeat=%d watcher_ms=%.1f watcher_bytes_per_instance=%.0f\n",
                r, watcher_runs.back().millis,
                watcher_runs.back().bytes_per_instance);
    std::fflush(stdout);
  }
  for (int r = 0; r < repeats; ++r) {
    channel_runs.push_back(
        MeasureChannel(etcd->endpoint(), instances, &failure_message));
    std::printf("repeat=%d channel_ms=%.1f channel_bytes_per_instance=%.0f\n",
                r, channel_runs.back().millis,
                channel_runs.back().bytes_per_instance);
    std::fflush(stdout);
    WaitForHeapToSettle();
  }
  std::printf("no-match message: %s\n", failure_message.c_str());

  const std::string json = absl::StrCat(
      "{\"bench\":\"scale\",\"instances\":", instances,
      ",\"repeats\":", repeats, ",\"populate_ms\":", Num(populate_ms),
      ",\"watcher\":", MeasuresJson(watcher_runs),
      ",\"channel\":", MeasuresJson(channel_runs), "}");
  std::printf("%s\n", json.c_str());
  if (!json_out.empty()) std::ofstream(json_out) << json << "\n";
  return 0;
}

}  // namespace
}  // namespace vlb::bench

int main(int argc, char** argv) { return vlb::bench::Run(argc, argv); }
