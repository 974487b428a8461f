// Pieces shared by the end-to-end benchmarks: an in-process echo server of
// the example service, order statistics, and start-up helpers that exit on
// failure (a benchmark that cannot set itself up has nothing to report).
#ifndef VLB_BENCH_E2E_BENCH_SUPPORT_H_
#define VLB_BENCH_E2E_BENCH_SUPPORT_H_

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api.grpc.pb.h"
#include "common/command_line.h"
#include "etcd_process.h"
#include "grpcpp/grpcpp.h"
#include "vlb/grpc.h"

namespace vlb::bench {

// Parses the command line into the benchmark's ABSL_FLAGs the way the
// programs do (programs/common/command_line.h): exits 2 on a bad flag, 0
// after --help, which prints `usage` and the flags.
inline void ParseFlagsOrExit(const char* usage, int argc, char** argv) {
  absl::SetProgramUsageMessage(usage);
  programs::ParseCommandLineOrExit(argc, argv);
}

// Exits 2 with the first failed check of the flags' values (such as
// programs::CheckFlagRange), as for a bad flag.
inline void ExitOnBadValue(const char* program,
                           std::initializer_list<absl::Status> checks) {
  for (const absl::Status& check : checks) {
    if (!check.ok()) std::exit(programs::UsageError(program, check));
  }
}

inline constexpr char kService[] = "hwholiday.srv.app";

[[noreturn]] inline void Die(absl::string_view what,
                             const absl::Status& status) {
  std::fprintf(stderr, "%s: %s\n", std::string(what).c_str(),
               status.ToString().c_str());
  std::exit(1);
}

// Answers every call with a fixed text (the instance id), so the handler
// costs next to nothing and needs no lock: the benchmarks measure the
// channel, not the service.
class EchoService final : public api::Api::Service {
 public:
  explicit EchoService(std::string id) : id_(std::move(id)) {}

  grpc::Status ApiTest(grpc::ServerContext* /*context*/,
                       const api::Request* /*request*/,
                       api::Response* response) override {
    response->set_output(id_);
    return grpc::Status::OK;
  }

 private:
  const std::string id_;
};

struct EchoServer {
  std::unique_ptr<EchoService> service;
  std::unique_ptr<grpc::Server> server;
  std::string address;  // "127.0.0.1:<port>"
};

// Serves `id` on a free loopback port.
inline EchoServer StartEchoServer(const std::string& id) {
  EchoServer out;
  out.service = std::make_unique<EchoService>(id);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(out.service.get());
  out.server = builder.BuildAndStart();
  if (out.server == nullptr || port == 0) {
    Die("echo server", absl::UnavailableError("cannot listen on 127.0.0.1"));
  }
  out.address = absl::StrCat("127.0.0.1:", port);
  return out;
}

inline std::unique_ptr<testing::EtcdProcess> StartEtcdOrDie() {
  auto etcd = testing::EtcdProcess::Start();
  if (!etcd.ok()) Die("etcd", etcd.status());
  return *std::move(etcd);
}

// Must run before the first channel or server exists.
inline void RegisterPluginsOrDie() {
  if (absl::Status status = RegisterGrpcPlugins(); !status.ok()) {
    Die("vlb::RegisterGrpcPlugins", status);
  }
}

// Nearest-rank percentile (q in [0, 1]); sorts `values`. 0 when empty.
inline double Percentile(std::vector<double>& values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(std::ceil(q * values.size()));
  rank = std::clamp<size_t>(rank, 1, values.size());
  return values[rank - 1];
}

inline double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// JSON number text; ratios and rates need no more than 4 decimals.
inline std::string Num(double value) { return absl::StrFormat("%.4f", value); }

}  // namespace vlb::bench

#endif  // VLB_BENCH_E2E_BENCH_SUPPORT_H_
