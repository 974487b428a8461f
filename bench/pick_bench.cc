// Pick cost and picker rebuild cost of vlb's policies next to gRPC's own
// round_robin, all driven through gRPC's LB policy interfaces with the same
// fake subchannels (tests/support/lb_harness.h), so that the only
// difference between the rows is the policy.
//
//   BM_Pick/<scenario>/<endpoints>/threads:<t>
//     ns per SubchannelPicker::Pick, all endpoints READY. Counter
//     allocs_per_pick: heap allocations per pick, counted over 1000 extra
//     picks after the timed loop (the goal is 0).
//   BM_Rebuild/<scenario>/<endpoints>
//     one subchannel flips READY -> TRANSIENT_FAILURE -> READY (one flip per
//     iteration, a different subchannel each time): the notification, the
//     new picker and the old picker's destruction. Counter us_per_endpoint.
//
// gRPC 1.51's channel calls every picker under its data-plane mutex, and
// round_robin's picker relies on it (a plain, non-atomic index). With more
// than one thread, round_robin is therefore measured under a mutex, as in a
// channel, while vlb's pickers run lock-free (they are thread-safe on their
// own); rows with "/mutex" show vlb under the same mutex.
//
// Harnesses are built once per scenario and size and shared by the
// repetitions: bringing 100,000 subchannels to READY one notification at a
// time rebuilds the picker 100,000 times, which takes a while.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "allocation_counter.h"
#include "lb_harness.h"

namespace {

using vlb::testing::Connectivity;
using vlb::testing::FakeEndpoint;
using vlb::testing::LbHarness;
using vlb::testing::PickOutcome;

#ifdef VLB_BENCH_SANITIZED
// ASan/UBSan make large setups slow and say nothing about release speed.
constexpr int64_t kDefaultMaxEndpoints = 1000;
constexpr int64_t kLimitEndpoints = 1000;
#else
// 100,000 is opt-in (VLB_BENCH_MAX_ENDPOINTS=100000; scripts/bench sets
// it): gRPC's round_robin rebuilds its picker for every subchannel that
// becomes READY, so bringing 100,000 up takes it about a minute per
// scenario. vlb's policies coalesce those rebuilds and come up in ~1 s.
constexpr int64_t kDefaultMaxEndpoints = 10000;
constexpr int64_t kLimitEndpoints = 100000;
#endif

int64_t MaxEndpoints() {
  int64_t n = kDefaultMaxEndpoints;
  if (const char* env = std::getenv("VLB_BENCH_MAX_ENDPOINTS")) {
    n = std::strtoll(env, nullptr, 10);
  }
  return std::clamp<int64_t>(n, 1, kLimitEndpoints);
}

enum class Versions {
  kHalves,  // alternating v1 / v2, as instances of two versions interleave
  kOne,     // all v1
};
enum class Weights { kEqual, kVaried };

struct Scenario {
  const char* name;
  const char* lb_config;
  Versions versions;
  Weights weights;
  // The header value each call carries, if any.
  std::optional<const char*> request;
  // A route document in force, if any (LbHarness::Options).
  const char* routes = nullptr;
  // Every 10th endpoint (a v1 one) is in lane "feature-x"; the lane each
  // call carries, if any.
  bool laned = false;
  std::optional<const char*> lane = std::nullopt;
};

// The issue's example document over v1/v2 instances: a caller rule (this
// process declares no caller, so it is dropped at compile time), a header
// rule whose header the calls lack, and a canary split on "v1" calls
// without the sticky header (a per-call draw).
constexpr char kThreeRules[] = R"({
  "defaultVersion": "v1", "fallback": ["v1", "*"],
  "rules": [
    {"name": "gateway-v2-needs-app-v3",
     "when": {"callerService": "hwholiday.srv.gateway", "callerVersion": "^2"},
     "version": "v2"},
    {"name": "beta-users", "when": {"header": {"x-beta": "1"}},
     "version": "v2"},
    {"name": "canary", "when": {"version": "v1"},
     "split": [{"version": "v1", "weight": 95}, {"version": "v2", "weight": 5}],
     "stickyHeader": "x-user-id"}]})";

const Scenario kVersionRr = {"vlb_version/rr/v1", R"([{"vlb_version": {}}])",
                             Versions::kHalves, Weights::kEqual, "v1"};
const Scenario kVersionRrRange = {"vlb_version/rr/^1",
                                  R"([{"vlb_version": {}}])", Versions::kHalves,
                                  Weights::kEqual, "^1"};
const Scenario kVersionWrr = {
    "vlb_version/wrr/v1",
    R"([{"vlb_version": {"childPolicy": "weighted_round_robin"}}])",
    Versions::kHalves, Weights::kVaried, "v1"};
// The same calls as kVersionRr with the 3-rule document in force: "v1"
// calls go through the canary split; "v2" calls match no rule (every rule
// is evaluated, then the call's own request is picked).
const Scenario kVersionRrRules = {"vlb_version/rr/v1/3-rules",
                                  R"([{"vlb_version": {}}])",
                                  Versions::kHalves,
                                  Weights::kEqual,
                                  "v1",
                                  kThreeRules};
const Scenario kVersionRrRulesMiss = {"vlb_version/rr/v2/3-rules-no-match",
                                      R"([{"vlb_version": {}}])",
                                      Versions::kHalves,
                                      Weights::kEqual,
                                      "v2",
                                      kThreeRules};
// Lanes: the table is split into the baseline and lane feature-x. Calls
// without a lane (the baseline's picks), calls of the lane (served in it,
// the baseline never resolved), and "v2" calls of the lane, which has no v2:
// both partitions are resolved and the baseline serves.
const Scenario kLanedNoLane = {"vlb_version/rr/v1/laned-table",
                               R"([{"vlb_version": {}}])",
                               Versions::kHalves,
                               Weights::kEqual,
                               "v1",
                               nullptr,
                               true,
                               std::nullopt};
const Scenario kLanedInLane = {"vlb_version/rr/v1/lane-feature-x",
                               R"([{"vlb_version": {}}])",
                               Versions::kHalves,
                               Weights::kEqual,
                               "v1",
                               nullptr,
                               true,
                               "feature-x"};
const Scenario kLanedToBaseline = {
    "vlb_version/rr/v2/lane-feature-x-to-baseline",
    R"([{"vlb_version": {}}])",
    Versions::kHalves,
    Weights::kEqual,
    "v2",
    nullptr,
    true,
    "feature-x"};
const Scenario kWrr = {"vlb_weighted_round_robin",
                       R"([{"vlb_weighted_round_robin": {}}])", Versions::kOne,
                       Weights::kVaried, std::nullopt};
const Scenario kRandom = {"vlb_random", R"([{"vlb_random": {}}])",
                          Versions::kOne, Weights::kEqual, std::nullopt};
const Scenario kRoundRobin = {"grpc_round_robin", R"([{"round_robin": {}}])",
                              Versions::kOne, Weights::kEqual, std::nullopt};

std::vector<FakeEndpoint> MakeEndpoints(const Scenario& s, int64_t n) {
  std::vector<FakeEndpoint> endpoints(static_cast<size_t>(n));
  for (size_t i = 0; i < endpoints.size(); ++i) {
    endpoints[i].version =
        s.versions == Versions::kHalves && i % 2 == 1 ? "v2" : "v1";
    // Not all equal, so that weighted policies take their weighted path
    // rather than the plain rotation they use for equal weights.
    endpoints[i].weight =
        s.weights == Weights::kVaried ? 1 + static_cast<uint32_t>(i % 7) : 1;
    if (s.laned && i % 10 == 8) endpoints[i].lane = "feature-x";
  }
  return endpoints;
}

// Built on first use, kept for the process: setup at 100,000 endpoints is
// far slower than any measurement.
LbHarness* SharedHarness(const Scenario& s, int64_t n) {
  static auto* cache = new std::map<std::pair<const Scenario*, int64_t>,
                                    std::unique_ptr<LbHarness>>();
  auto key = std::make_pair(&s, n);
  auto it = cache->find(key);
  if (it != cache->end()) return it->second.get();
  LbHarness::Options options;
  if (s.routes != nullptr) options.route_document = s.routes;
  auto created = LbHarness::Create(s.lb_config, options);
  if (!created.ok()) {
    std::fprintf(stderr, "%s: %s\n", s.name,
                 created.status().ToString().c_str());
    return nullptr;
  }
  LbHarness* harness = created->get();
  const auto start = std::chrono::steady_clock::now();
  if (absl::Status st = harness->SetEndpoints(MakeEndpoints(s, n)); !st.ok()) {
    std::fprintf(stderr, "%s: %s\n", s.name, st.ToString().c_str());
    return nullptr;
  }
  harness->SetAllStates(Connectivity::kReady);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  if (seconds > 1) {
    std::fprintf(stderr, "setup %s with %lld endpoints: %.1f s\n", s.name,
                 static_cast<long long>(n), seconds);
  }
  cache->emplace(key, *std::move(created));
  return harness;
}

std::optional<absl::string_view> Request(const Scenario& s) {
  if (!s.request.has_value()) return std::nullopt;
  return absl::string_view(*s.request);
}

std::optional<absl::string_view> Lane(const Scenario& s) {
  if (!s.lane.has_value()) return std::nullopt;
  return absl::string_view(*s.lane);
}

void BM_Pick(benchmark::State& state, const Scenario* s, bool mutex) {
  const int64_t n = state.range(0);
  static LbHarness* harness = nullptr;  // shared by this run's threads
  if (state.thread_index() == 0) {
    harness = SharedHarness(*s, n);
    if (harness != nullptr) harness->SetSerializePicks(mutex);
  }
  // Benchmark's start barrier (inside the loop's first step) orders the
  // assignment above before the other threads read it.
  const std::optional<absl::string_view> request = Request(*s);
  const std::optional<absl::string_view> lane = Lane(*s);
  LbHarness::ExecCtxScope exec_ctx;
  bool failed = false;
  for (auto _ : state) {
    if (harness == nullptr) {
      failed = true;
      continue;
    }
    PickOutcome outcome = harness->Pick(request, lane);
    benchmark::DoNotOptimize(outcome.endpoint);
    failed |= outcome.kind != PickOutcome::Kind::kComplete;
  }
  if (failed || harness == nullptr) {
    state.SkipWithError("a pick did not complete");
    return;
  }
  constexpr int kCounted = 1000;
  int64_t allocations;
  {
    vlb::testing::AllocationCounter counter;
    for (int i = 0; i < kCounted; ++i) {
      PickOutcome outcome = harness->Pick(request, lane);
      benchmark::DoNotOptimize(outcome.endpoint);
    }
    allocations = counter.count();
  }
  state.counters["allocs_per_pick"] =
      benchmark::Counter(static_cast<double>(allocations) / kCounted,
                         benchmark::Counter::kAvgThreads);
  state.counters["endpoints"] = static_cast<double>(n);
}

void BM_Rebuild(benchmark::State& state, const Scenario* s) {
  const int64_t n = state.range(0);
  LbHarness* harness = SharedHarness(*s, n);
  if (harness == nullptr) {
    state.SkipWithError("setup failed");
    return;
  }
  // Stride through the endpoints so consecutive flips hit different
  // subchannels (and, for vlb_version, alternate between versions).
  size_t next = 0;
  bool fail = true;
  const uint64_t rebuilds_before = harness->PickerRebuildCount();
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    harness->SetState(
        next, fail ? Connectivity::kTransientFailure : Connectivity::kReady);
    if (!fail) next = (next + 7919) % static_cast<size_t>(n);
    fail = !fail;
  }
  const double elapsed_us = std::chrono::duration<double, std::micro>(
                                std::chrono::steady_clock::now() - start)
                                .count();
  // Leave every endpoint READY for whoever uses this harness next.
  if (!fail) harness->SetState(next, Connectivity::kReady);
  const uint64_t rebuilds = harness->PickerRebuildCount() - rebuilds_before;
  if (rebuilds < static_cast<uint64_t>(state.iterations())) {
    state.SkipWithError("a state flip did not rebuild the picker");
    return;
  }
  state.counters["us_per_endpoint"] = elapsed_us /
                                      static_cast<double>(state.iterations()) /
                                      static_cast<double>(n);
  state.counters["endpoints"] = static_cast<double>(n);
}

void RegisterAll() {
  std::vector<int64_t> sizes;
  for (int64_t n = 1; n <= MaxEndpoints(); n *= 10) sizes.push_back(n);
  std::vector<int> threads = {1, 2};
  if (std::thread::hardware_concurrency() >= 4) threads.push_back(4);

  // `mutex`: always under the mutex; otherwise only round_robin, and only
  // when threads share it.
  auto add_pick = [&](const Scenario* s, bool multi_threaded, bool mutex) {
    for (int t : threads) {
      if (t > 1 && !multi_threaded) break;
      const bool locked = mutex || (s == &kRoundRobin && t > 1);
      std::string name = std::string("BM_Pick/") + s->name;
      if (locked) name += "/mutex";
      auto* b = benchmark::RegisterBenchmark(
          name.c_str(),
          [s, locked](benchmark::State& st) { BM_Pick(st, s, locked); });
      for (int64_t n : sizes) b->Arg(n);
      b->Threads(t);
      // Alone, CPU time is robust to other load on the machine; threads
      // that wait for each other (mutex, shared counter) need wall time.
      if (t > 1) b->UseRealTime();
    }
  };
  add_pick(&kVersionRr, true, false);
  add_pick(&kVersionRrRange, false, false);
  add_pick(&kVersionRrRules, false, false);
  add_pick(&kVersionRrRulesMiss, false, false);
  add_pick(&kLanedNoLane, false, false);
  add_pick(&kLanedInLane, false, false);
  add_pick(&kLanedToBaseline, false, false);
  add_pick(&kVersionWrr, false, false);
  add_pick(&kWrr, true, false);
  add_pick(&kRandom, true, false);
  add_pick(&kRoundRobin, true, false);
  add_pick(&kVersionRr, true, true);

  for (const Scenario* s : {&kVersionRr, &kVersionWrr, &kWrr, &kRoundRobin}) {
    auto* b = benchmark::RegisterBenchmark(
        (std::string("BM_Rebuild/") + s->name).c_str(),
        [s](benchmark::State& st) { BM_Rebuild(st, s); });
    for (int64_t n : sizes) {
      if (n >= 1000) b->Arg(n);
    }
    b->Unit(benchmark::kMicrosecond)->UseRealTime();
  }
}

}  // namespace

int main(int argc, char** argv) {
  RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
