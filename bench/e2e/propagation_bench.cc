// propagation_bench: how fast a running etcd:/// client sees an instance
// come and go.
//
// Each round starts a new in-process server and registrar announcing
// version v2 (the only v2 instance; a v1 instance stays up throughout so
// the channel is otherwise healthy), then:
//   up:   a wait_for_ready v2 call is already queued in the client when
//         Start() is called; measured from the Start() call until that
//         call completes, served by the new instance. In the path: the
//         registrar's lease grant and fenced put, etcd's watch event, the
//         resolver update, the policy's new subchannel connecting (TCP +
//         HTTP/2 handshake) and the call itself.
//   down: a probe thread calls v2 back to back (wait_for_ready off);
//         measured from the Stop() call until the first probe that the
//         instance did not serve returns. In the path: the lease revoke,
//         etcd's delete event, the resolver update and the new picker.
//   route: while the v2 instance is up, a probe thread calls v1 back to
//         back; a route document pinning v1 calls to v2 is put in etcd;
//         measured from the put until the first probe served by the v2
//         instance. In the path: etcd's watch event on the document, its
//         validation, the resolver update, the policy compiling the rules
//         and the new picker. The document is then deleted (not timed).
// Prints p50/p99/max of each as a JSON line (--json_out also writes it).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api.grpc.pb.h"
#include "bench_support.h"
#include "etcd/client.h"
#include "grpcpp/grpcpp.h"
#include "vlb/grpc.h"
#include "vlb/registrar.h"

ABSL_FLAG(int, rounds, 200, "rounds, in [1, 100000]");
ABSL_FLAG(bool, verbose, false, "print each round");
ABSL_FLAG(std::string, json_out, "", "also write the JSON line to this file");

namespace vlb::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kUsage[] =
    "Usage: propagation_bench [--rounds=N] [--verbose] [--json_out=FILE]\n"
    "\n"
    "Times, over N rounds, how long a running etcd:/// client\n"
    "takes to serve calls on a newly started v2 instance (from Start()) and\n"
    "to stop picking it after a graceful Stop().\n";

constexpr absl::Duration kCallTimeout = absl::Seconds(10);

double MillisBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// The outcome of one asynchronous call, waited for by the main thread.
class PendingCall {
 public:
  void Done(grpc::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = std::move(status);
    done_at_ = Clock::now();
    cv_.notify_all();
  }
  // Returns the status and sets `*done_at`.
  grpc::Status Wait(Clock::time_point* done_at) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return status_.has_value(); });
    *done_at = done_at_;
    return *status_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<grpc::Status> status_;
  Clock::time_point done_at_;
};

struct Probe {
  grpc::Status status;
  std::string served_by;
};

Probe CallVersion(api::Api::Stub* stub, const char* version) {
  grpc::ClientContext context;
  if (absl::Status s = SetVersion(&context, version); !s.ok()) {
    Die("vlb::SetVersion", s);
  }
  context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
  api::Request request;
  api::Response response;
  Probe probe;
  probe.status = stub->ApiTest(&context, request, &response);
  probe.served_by = response.output();
  return probe;
}

constexpr char kRoutesKey[] = "/vlb/routes/hwholiday.srv.app";

void PutOrDie(etcd::Client* etcd, const std::string& key,
              const std::string& value) {
  etcdserverpb::PutRequest put;
  put.set_key(key);
  put.set_value(value);
  if (auto done = etcd->Put(put); !done.ok()) Die("etcd put", done.status());
}

// The route interval of one round (see the top of the file): puts a
// document pinning v1 calls to v2 while a prober calls v1, and returns the
// milliseconds until a probe was served by `id`, the v2 instance.
double TimeRoutePin(etcd::Client* etcd, api::Api::Stub* stub,
                    const std::string& id, int round) {
  std::atomic<bool> started{false};
  Clock::time_point routed_at;
  std::thread prober([&] {
    while (true) {
      Probe probe = CallVersion(stub, "v1");
      started.store(true, std::memory_order_release);
      if (probe.status.ok() && probe.served_by == id) {
        routed_at = Clock::now();
        return;
      }
    }
  });
  while (!started.load(std::memory_order_acquire)) std::this_thread::yield();
  const Clock::time_point put_at = Clock::now();
  PutOrDie(etcd, kRoutesKey,
           absl::StrCat(R"({"rules": [{"name": "pin-)", round,
                        R"(", "when": {"version": "v1"}, "version": "v2"}]})"));
  prober.join();
  etcdserverpb::DeleteRangeRequest del;
  del.set_key(kRoutesKey);
  if (auto done = etcd->DeleteRange(del); !done.ok()) {
    Die("etcd delete", done.status());
  }
  // Back to v1 before the next interval starts.
  while (CallVersion(stub, "v1").served_by == id) {
  }
  return MillisBetween(put_at, routed_at);
}

std::string StatsJson(std::vector<double> millis) {
  std::vector<double> sorted = millis;
  const double p50 = Percentile(sorted, 0.50);
  const double p99 = Percentile(sorted, 0.99);
  return absl::StrCat("{\"p50_ms\":", Num(p50), ",\"p99_ms\":", Num(p99),
                      ",\"max_ms\":", Num(sorted.empty() ? 0 : sorted.back()),
                      "}");
}

int Run(int argc, char** argv) {
  ParseFlagsOrExit(kUsage, argc, argv);
  const int rounds = absl::GetFlag(FLAGS_rounds);
  const bool verbose = absl::GetFlag(FLAGS_verbose);
  const std::string json_out = absl::GetFlag(FLAGS_json_out);
  ExitOnBadValue("propagation_bench",
                 {programs::CheckFlagRange("rounds", rounds, 1, 100000)});
  RegisterPluginsOrDie();
  std::unique_ptr<testing::EtcdProcess> etcd = StartEtcdOrDie();

  RegistrarOptions base;
  base.etcd.endpoints = {etcd->endpoint()};
  base.service_name = kService;

  EchoServer v1_server = StartEchoServer("v1-0");
  RegistrarOptions v1_options = base;
  v1_options.instance_id = "v1-0";
  v1_options.version = "v1";
  v1_options.address = v1_server.address;
  auto v1_registrar = Registrar::Create(v1_options);
  if (!v1_registrar.ok()) Die("registrar", v1_registrar.status());
  if (absl::Status status = (*v1_registrar)->Start(); !status.ok()) {
    Die("registrar start", status);
  }

  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = vlb::CreateChannel(
      absl::StrCat("etcd://", etcd->endpoint(), "/", kService),
      grpc::InsecureChannelCredentials());
  if (!channel.ok()) Die("vlb::CreateChannel", channel.status());
  std::unique_ptr<api::Api::Stub> stub = api::Api::NewStub(*channel);
  {
    grpc::ClientContext context;
    if (absl::Status s = SetVersion(&context, "v1"); !s.ok()) {
      Die("vlb::SetVersion", s);
    }
    context.set_wait_for_ready(true);
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
    api::Request request;
    api::Response response;
    if (grpc::Status s = stub->ApiTest(&context, request, &response); !s.ok()) {
      Die("warm-up call", absl::UnavailableError(s.error_message()));
    }
  }

  etcd::ClientOptions etcd_options;
  etcd_options.endpoints = {etcd->endpoint()};
  auto etcd_client = etcd::Client::Create(etcd_options);
  if (!etcd_client.ok()) Die("etcd client", etcd_client.status());

  std::vector<double> up_ms, down_ms, start_call_ms, stop_call_ms, route_ms;
  for (int round = 0; round < rounds; ++round) {
    const std::string id = absl::StrCat("v2-", round);
    EchoServer server = StartEchoServer(id);
    RegistrarOptions options = base;
    options.instance_id = id;
    options.version = "v2";
    options.address = server.address;
    auto registrar = Registrar::Create(options);
    if (!registrar.ok()) Die("registrar", registrar.status());

    // --- up ---------------------------------------------------------------
    PendingCall pending;
    grpc::ClientContext context;
    if (absl::Status s = SetVersion(&context, "v2"); !s.ok()) {
      Die("vlb::SetVersion", s);
    }
    context.set_wait_for_ready(true);
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
    api::Request request;
    api::Response response;
    stub->async()->ApiTest(&context, &request, &response,
                           [&pending](grpc::Status s) { pending.Done(s); });
    // Lets the call reach the picker and queue there, so that only the
    // propagation is timed, not the call's own start.
    absl::SleepFor(absl::Milliseconds(2));
    const Clock::time_point start_at = Clock::now();
    if (absl::Status status = (*registrar)->Start(); !status.ok()) {
      Die("registrar start", status);
    }
    const Clock::time_point started_at = Clock::now();
    Clock::time_point served_at;
    grpc::Status up_status = pending.Wait(&served_at);
    if (!up_status.ok() || response.output() != id) {
      Die(absl::StrCat("round ", round, " up"),
          absl::UnknownError(
              absl::StrCat("call ended with ", up_status.error_code(), " ",
                           up_status.error_message(), ", served by '",
                           response.output(), "'")));
    }
    up_ms.push_back(MillisBetween(start_at, served_at));
    start_call_ms.push_back(MillisBetween(start_at, started_at));

    // --- route ------------------------------------------------------------
    route_ms.push_back(TimeRoutePin(etcd_client->get(), stub.get(), id, round));

    // --- down -------------------------------------------------------------
    std::atomic<bool> probing_served{false};
    Clock::time_point gone_at;
    Probe last;
    std::thread prober([&] {
      while (true) {
        Probe probe = CallVersion(stub.get(), "v2");
        if (probe.status.ok() && probe.served_by == id) {
          probing_served.store(true, std::memory_order_release);
          continue;
        }
        gone_at = Clock::now();
        last = std::move(probe);
        return;
      }
    });
    while (!probing_served.load(std::memory_order_acquire)) {
      std::this_thread::yield();
    }
    const Clock::time_point stop_at = Clock::now();
    (*registrar)->Stop();
    const Clock::time_point stopped_at = Clock::now();
    prober.join();
    if (last.status.error_code() != grpc::StatusCode::UNAVAILABLE) {
      Die(absl::StrCat("round ", round, " down"),
          absl::UnknownError(absl::StrCat(
              "expected UNAVAILABLE after Stop(), got ",
              last.status.error_code(), " ", last.status.error_message())));
    }
    down_ms.push_back(MillisBetween(stop_at, gone_at));
    stop_call_ms.push_back(MillisBetween(stop_at, stopped_at));
    server.server->Shutdown(absl::ToChronoTime(absl::Now()));

    if (verbose) {
      std::printf(
          "round=%d up_ms=%.3f start_call_ms=%.3f down_ms=%.3f "
          "stop_call_ms=%.3f route_ms=%.3f last=\"%s\"\n",
          round, up_ms.back(), start_call_ms.back(), down_ms.back(),
          stop_call_ms.back(), route_ms.back(),
          last.status.error_message().c_str());
    }
  }

  const std::string json = absl::StrCat(
      "{\"bench\":\"propagation\",\"rounds\":", rounds,
      ",\"up\":", StatsJson(up_ms), ",\"down\":", StatsJson(down_ms),
      ",\"start_call\":", StatsJson(start_call_ms),
      ",\"stop_call\":", StatsJson(stop_call_ms),
      ",\"route\":", StatsJson(route_ms), "}");
  std::printf("%s\n", json.c_str());
  if (!json_out.empty()) std::ofstream(json_out) << json << "\n";

  (*v1_registrar)->Stop();
  v1_server.server->Shutdown(absl::ToChronoTime(absl::Now()));
  return 0;
}

}  // namespace
}  // namespace vlb::bench

int main(int argc, char** argv) { return vlb::bench::Run(argc, argv); }
