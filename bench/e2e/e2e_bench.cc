// e2e_bench: unary call throughput and latency on loopback, through
// etcd:/// + vlb_version and through gRPC's own ipv4: target + round_robin,
// against the same in-process servers in the same process.
//
// Runs of the two channels alternate (and which one goes first alternates
// too), so drift in the machine's state (CPU frequency, other load, caches)
// lands on both sides alike. Each run is a closed loop: K threads each issue
// the next call as soon as the last one returns.
//
// Prints one line per run, then a JSON line with the medians over the runs
// and the ratios vlb / gRPC; --json_out writes that line to a file too.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api.grpc.pb.h"
#include "bench_support.h"
#include "grpcpp/grpcpp.h"
#include "vlb/grpc.h"
#include "vlb/registrar.h"

ABSL_FLAG(int, rounds, 5, "rounds, in [1, 1000]");
ABSL_FLAG(double, seconds_per_round, 2,
          "length of each run, in [0.01, 3600] seconds");
ABSL_FLAG(std::string, concurrency, "1,8",
          "comma-separated thread counts, each in [1, 1024]");
ABSL_FLAG(int, servers, 3, "in-process servers, in [1, 64]");
ABSL_FLAG(std::string, json_out, "", "also write the JSON line to this file");

namespace vlb::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kUsage[] =
    "Usage: e2e_bench [--rounds=N] [--seconds_per_round=S]\n"
    "                 [--concurrency=K1,K2,...] [--servers=N]\n"
    "                 [--json_out=FILE]\n"
    "\n"
    "Closed-loop unary calls through etcd:/// + vlb_version and through\n"
    "ipv4: + round_robin against the same in-process servers; runs of the\n"
    "two alternate. The defaults take about a minute.\n";

struct Config {
  int rounds = 5;
  double seconds_per_round = 2;
  std::vector<int> concurrency = {1, 8};
  int servers = 3;
  std::string json_out;
};

Config ParseConfig(int argc, char** argv) {
  ParseFlagsOrExit(kUsage, argc, argv);
  Config config;
  config.rounds = absl::GetFlag(FLAGS_rounds);
  config.seconds_per_round = absl::GetFlag(FLAGS_seconds_per_round);
  config.servers = absl::GetFlag(FLAGS_servers);
  config.json_out = absl::GetFlag(FLAGS_json_out);
  ExitOnBadValue(
      "e2e_bench",
      {programs::CheckFlagRange("rounds", config.rounds, 1, 1000),
       programs::CheckFlagRange("seconds_per_round", config.seconds_per_round,
                                0.01, 3600.0),
       programs::CheckFlagRange("servers", config.servers, 1, 64)});
  const std::string list = absl::GetFlag(FLAGS_concurrency);
  config.concurrency.clear();
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    int k = 0;
    if (!absl::SimpleAtoi(part, &k) || k < 1 || k > 1024) {
      ExitOnBadValue("e2e_bench",
                     {absl::InvalidArgumentError(absl::StrCat(
                         "--concurrency: \"", part,
                         "\" is not a thread count in [1, 1024]"))});
    }
    config.concurrency.push_back(k);
  }
  return config;
}

struct RunResult {
  int64_t calls = 0;
  int64_t errors = 0;
  double qps = 0;
  double p50_us = 0;
  double p99_us = 0;
};

// One channel under test. `version` is empty for the plain gRPC channel:
// its calls carry no version header, as a user of round_robin would send.
struct Subject {
  std::string name;
  std::unique_ptr<api::Api::Stub> stub;
  std::string version;
};

RunResult RunLoad(const Subject& subject, int threads, absl::Duration length) {
  std::vector<std::vector<double>> latencies(threads);
  std::vector<int64_t> errors(threads, 0);
  std::atomic<bool> go{false};
  Clock::time_point end;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::vector<double>& mine = latencies[t];
      // Sized for ~100k calls/s per thread, so the timed loop never
      // reallocates.
      mine.reserve(static_cast<size_t>(absl::ToDoubleSeconds(length) * 1e5));
      api::Request request;
      request.set_input("ping");
      api::Response response;
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      while (true) {
        const Clock::time_point start = Clock::now();
        if (start >= end) break;
        // The context and the version header are part of what a caller
        // pays per call, so they are inside the measured time.
        grpc::ClientContext context;
        if (!subject.version.empty()) {
          if (absl::Status s = SetVersion(&context, subject.version); !s.ok()) {
            Die("vlb::SetVersion", s);
          }
        }
        context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::seconds(10));
        grpc::Status status =
            subject.stub->ApiTest(&context, request, &response);
        const Clock::time_point done = Clock::now();
        if (status.ok()) {
          mine.push_back(
              std::chrono::duration<double, std::micro>(done - start).count());
        } else {
          ++errors[t];
        }
      }
    });
  }
  const Clock::time_point begin = Clock::now();
  end = begin + absl::ToChronoNanoseconds(length);
  go.store(true, std::memory_order_release);
  for (auto& worker : workers) worker.join();
  const double elapsed =
      std::chrono::duration<double>(Clock::now() - begin).count();

  RunResult result;
  std::vector<double> all;
  for (int t = 0; t < threads; ++t) {
    all.insert(all.end(), latencies[t].begin(), latencies[t].end());
    result.errors += errors[t];
  }
  result.calls = static_cast<int64_t>(all.size());
  result.qps = result.calls / elapsed;
  result.p50_us = Percentile(all, 0.50);
  result.p99_us = Percentile(all, 0.99);
  return result;
}

// Calls until every server answered, so both channels have all their
// connections READY before anything is measured.
void WarmUp(const Subject& subject, int servers) {
  std::vector<std::string> seen;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  api::Request request;
  while (static_cast<int>(seen.size()) < servers) {
    if (absl::Now() > deadline) {
      Die("warm-up", absl::DeadlineExceededError(absl::StrCat(
                         subject.name, " did not reach all servers")));
    }
    grpc::ClientContext context;
    if (!subject.version.empty()) {
      if (absl::Status s = SetVersion(&context, subject.version); !s.ok()) {
        Die("vlb::SetVersion", s);
      }
    }
    context.set_wait_for_ready(true);
    context.set_deadline(absl::ToChronoTime(deadline));
    api::Response response;
    if (subject.stub->ApiTest(&context, request, &response).ok() &&
        std::find(seen.begin(), seen.end(), response.output()) == seen.end()) {
      seen.push_back(response.output());
    }
  }
}

std::string SideJson(const std::vector<RunResult>& runs) {
  std::vector<double> qps, p50, p99;
  int64_t errors = 0;
  for (const RunResult& run : runs) {
    qps.push_back(run.qps);
    p50.push_back(run.p50_us);
    p99.push_back(run.p99_us);
    errors += run.errors;
  }
  return absl::StrCat(
      "{\"qps\":", Num(Median(qps)), ",\"p50_us\":", Num(Median(p50)),
      ",\"p99_us\":", Num(Median(p99)), ",\"errors\":", errors, "}");
}

double MedianOf(const std::vector<RunResult>& runs, double RunResult::*field) {
  std::vector<double> values;
  for (const RunResult& run : runs) values.push_back(run.*field);
  return Median(values);
}

int Run(int argc, char** argv) {
  const Config config = ParseConfig(argc, argv);
  RegisterPluginsOrDie();
  std::unique_ptr<testing::EtcdProcess> etcd = StartEtcdOrDie();

  std::vector<EchoServer> servers;
  std::vector<std::unique_ptr<Registrar>> registrars;
  std::vector<std::string> addresses;
  for (int i = 0; i < config.servers; ++i) {
    servers.push_back(StartEchoServer(absl::StrCat("app-", i)));
    RegistrarOptions options;
    options.etcd.endpoints = {etcd->endpoint()};
    options.service_name = kService;
    options.instance_id = absl::StrCat("app-", i);
    options.version = "v1";
    options.address = servers.back().address;
    auto registrar = Registrar::Create(options);
    if (!registrar.ok()) Die("registrar", registrar.status());
    if (absl::Status status = (*registrar)->Start(); !status.ok()) {
      Die("registrar start", status);
    }
    registrars.push_back(*std::move(registrar));
    addresses.push_back(servers.back().address);
  }

  Subject vlb_side;
  vlb_side.name = "vlb";
  vlb_side.version = "v1";
  absl::StatusOr<std::shared_ptr<grpc::Channel>> vlb_channel =
      vlb::CreateChannel(
          absl::StrCat("etcd://", etcd->endpoint(), "/", kService),
          grpc::InsecureChannelCredentials());
  if (!vlb_channel.ok()) Die("vlb::CreateChannel", vlb_channel.status());
  vlb_side.stub = api::Api::NewStub(*vlb_channel);
  Subject grpc_side;
  grpc_side.name = "grpc";
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(R"({"loadBalancingConfig":[{"round_robin":{}}]})");
  grpc_side.stub = api::Api::NewStub(grpc::CreateCustomChannel(
      absl::StrCat("ipv4:", absl::StrJoin(addresses, ",")),
      grpc::InsecureChannelCredentials(), args));

  // The same gRPC channel, but each call also carries the x-version header
  // (ignored by round_robin): separates what the header costs on the wire
  // from what vlb's resolver and policy cost.
  Subject header_side;
  header_side.name = "grpc+header";
  header_side.version = "v1";
  header_side.stub = api::Api::NewStub(grpc::CreateCustomChannel(
      absl::StrCat("ipv4:", absl::StrJoin(addresses, ",")),
      grpc::InsecureChannelCredentials(), args));

  WarmUp(vlb_side, config.servers);
  WarmUp(grpc_side, config.servers);
  WarmUp(header_side, config.servers);
  // A short load on each warms the allocator, thread stacks and the
  // servers' thread pools to the largest concurrency used.
  int max_k = 1;
  for (int k : config.concurrency) max_k = std::max(max_k, k);
  RunLoad(vlb_side, max_k, absl::Milliseconds(500));
  RunLoad(grpc_side, max_k, absl::Milliseconds(500));
  RunLoad(header_side, max_k, absl::Milliseconds(500));

  const absl::Duration length = absl::Seconds(config.seconds_per_round);
  std::vector<std::string> result_json;
  for (int k : config.concurrency) {
    std::vector<RunResult> vlb_runs, grpc_runs, header_runs;
    const Subject* subjects[] = {&vlb_side, &grpc_side, &header_side};
    std::vector<RunResult>* runs_of[] = {&vlb_runs, &grpc_runs, &header_runs};
    for (int round = 0; round < config.rounds; ++round) {
      // The order rotates so that no side always runs first or last.
      for (int leg = 0; leg < 3; ++leg) {
        const int which = (round + leg) % 3;
        const Subject& subject = *subjects[which];
        RunResult run = RunLoad(subject, k, length);
        runs_of[which]->push_back(run);
        std::printf(
            "run concurrency=%d round=%d channel=%s calls=%lld errors=%lld "
            "qps=%.0f p50_us=%.1f p99_us=%.1f\n",
            k, round, subject.name.c_str(), static_cast<long long>(run.calls),
            static_cast<long long>(run.errors), run.qps, run.p50_us,
            run.p99_us);
        std::fflush(stdout);
      }
    }
    const double qps_ratio = MedianOf(vlb_runs, &RunResult::qps) /
                             MedianOf(grpc_runs, &RunResult::qps);
    const double p50_ratio = MedianOf(vlb_runs, &RunResult::p50_us) /
                             MedianOf(grpc_runs, &RunResult::p50_us);
    const double p99_ratio = MedianOf(vlb_runs, &RunResult::p99_us) /
                             MedianOf(grpc_runs, &RunResult::p99_us);
    const double qps_vs_header = MedianOf(vlb_runs, &RunResult::qps) /
                                 MedianOf(header_runs, &RunResult::qps);
    const double p99_vs_header = MedianOf(vlb_runs, &RunResult::p99_us) /
                                 MedianOf(header_runs, &RunResult::p99_us);
    result_json.push_back(absl::StrCat(
        "{\"concurrency\":", k, ",\"vlb\":", SideJson(vlb_runs), ",\"grpc\":",
        SideJson(grpc_runs), ",\"grpc_header\":", SideJson(header_runs),
        ",\"ratio\":{\"qps\":", Num(qps_ratio), ",\"p50\":", Num(p50_ratio),
        ",\"p99\":", Num(p99_ratio), "},\"ratio_vs_header\":{\"qps\":",
        Num(qps_vs_header), ",\"p99\":", Num(p99_vs_header), "}}"));
  }

  const std::string json =
      absl::StrCat("{\"bench\":\"e2e\",\"servers\":", config.servers,
                   ",\"rounds\":", config.rounds,
                   ",\"seconds_per_round\":", Num(config.seconds_per_round),
                   ",\"results\":[", absl::StrJoin(result_json, ","), "]}");
  std::printf("%s\n", json.c_str());
  if (!config.json_out.empty()) {
    std::ofstream(config.json_out) << json << "\n";
  }

  for (auto& registrar : registrars) registrar->Stop();
  for (auto& server : servers) {
    server.server->Shutdown(absl::ToChronoTime(absl::Now()));
  }
  return 0;
}

}  // namespace
}  // namespace vlb::bench

int main(int argc, char** argv) { return vlb::bench::Run(argc, argv); }
