// churn_bench: memory and threads of a client channel that lives through
// many register/unregister events.
//
// Two processes, so that only the client is measured:
//   this process (the client): one etcd:/// channel with vlb_version and a
//     caller thread making paced v1 calls throughout;
//   a child (this program again, with --child_dir): a few reachable echo
//     servers, and the writer that puts and deletes instance records
//     straight into etcd, one request per event, from several threads.
//     Most instances have addresses where nothing listens (127.1.x.y:9),
//     so their connections are refused.
// The two meet through files in a temp dir (ready, go, progress, done).
//
// Phases: baseline (channel READY, every instance registered, settled);
// churn (the writer toggles the unreachable instances, then registers them
// all again, so the final set equals the baseline's); after (the client is
// sampled until RSS and threads stop moving). Reports RSS (/proc/self/statm),
// threads (/proc/self/task, by name), malloc's view (in use, held from the
// system, arenas) and RSS after / baseline, whose goal is <= 1.5x.
//
// By default an instance comes back on its old address (a flapping
// registration); --fresh_addresses gives it a new one each time (pods that
// return on new IPs), which no subchannel reuse can help.
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api.grpc.pb.h"
#include "bench_support.h"
#include "etcd/client.h"
#include "grpc/grpc.h"
#include "grpcpp/grpcpp.h"
#include "vlb/grpc.h"
#include "vlb/service_instance.h"

ABSL_FLAG(std::optional<int>, events, std::nullopt,
          "register/unregister events, in [1, 10000000] (default: 20000; "
          "with --quick 3000)");
ABSL_FLAG(bool, quick, false, "fewer events, for checking the benchmark");
ABSL_FLAG(int, instances, 200, "instances, in [2, 50000]");
ABSL_FLAG(int, reachable, 3,
          "how many of them are real servers, in [1, 100] and below "
          "--instances; the others are unreachable and are the ones toggled");
ABSL_FLAG(int, writers, 4, "concurrent etcd writers, in [1, 64]");
ABSL_FLAG(bool, fresh_addresses, false,
          "each re-registration uses a new address (pods coming back on new "
          "IPs) instead of the same one");
ABSL_FLAG(int, settle_seconds, 10,
          "least wait after the churn, in [0, 3600]; the wait goes on, up to "
          "60 s more, while RSS or threads move");
ABSL_FLAG(int, arena_max, 0,
          "mitigation: mallopt(M_ARENA_MAX, N) at start, N in [0, 1024] (0: "
          "malloc's default)");
ABSL_FLAG(bool, trim, false, "mitigation: also sample after malloc_trim(0)");
ABSL_FLAG(bool, local_subchannel_pool, false,
          "mitigation: GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL");
ABSL_FLAG(std::string, json_out, "", "also write the JSON line to this file");
ABSL_FLAG(std::string, child_dir, "",
          "internal: run as the child, meeting the client in this directory");
ABSL_FLAG(std::string, etcd, "", "internal: the child's etcd endpoint");

namespace vlb::bench {
namespace {

constexpr char kUsage[] =
    "Usage: churn_bench [--events=N] [--quick] [--instances=N]\n"
    "                   [--reachable=N] [--writers=N] [--fresh_addresses]\n"
    "                   [--settle_seconds=S] [--arena_max=N] [--trim]\n"
    "                   [--local_subchannel_pool] [--json_out=FILE]\n"
    "\n"
    "Runs one etcd:/// channel (vlb_version) through N register/unregister\n"
    "events and reports the client's RSS and threads before, during and\n"
    "after the churn.\n"
    "\n"
    "The last stdout line is the result as JSON (also --json_out).\n";

constexpr char kCallVersion[] = "v1";
constexpr absl::Duration kCallPeriod = absl::Milliseconds(2);
constexpr absl::Duration kSamplePeriod = absl::Milliseconds(500);

struct Config {
  int events = 20000;
  bool quick = false;
  int instances = 200;
  int reachable = 3;
  int writers = 4;
  int settle_seconds = 10;
  int arena_max = 0;
  bool trim = false;
  bool local_subchannel_pool = false;
  bool fresh_addresses = false;
  std::string json_out;
  std::string child_dir;  // set: run as the child
  std::string etcd;       // the child's etcd endpoint
};

// --- Files shared by the two processes -------------------------------------

// Written whole, then renamed, so the reader never sees half a file.
void WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tmp";
  std::ofstream(temp) << text;
  std::filesystem::rename(temp, path);
}

bool ReadFile(const std::string& path, std::string* text) {
  std::ifstream in(path);
  if (!in) return false;
  std::stringstream buffer;
  buffer << in.rdbuf();
  *text = buffer.str();
  return true;
}

int64_t ReadNumberFile(const std::string& path) {
  std::string text;
  int64_t value = 0;
  if (!ReadFile(path, &text)) return 0;
  return absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &value) ? value : 0;
}

// Waits until `path` exists; false after `timeout`.
bool WaitForFile(const std::string& path, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!std::filesystem::exists(path)) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// --- The child: servers and writer -----------------------------------------

// Same loopback scheme as scale_bench: distinct hosts, nothing on port 9.
std::string UnreachableAddress(int i) {
  return absl::StrFormat("127.1.%d.%d:9", i / 200, 1 + i % 200);
}

std::string InstanceId(int i) { return absl::StrFormat("app-%05d", i); }

std::string Record(int i, const std::string& address) {
  ServiceInstance instance;
  instance.name = ServiceShortName(kService);
  instance.path = ServicePath(kService);
  instance.id = InstanceId(i);
  instance.version = kCallVersion;
  instance.address = address;
  return EncodeServiceRecord(instance);
}

class Writer {
 public:
  Writer(std::shared_ptr<etcd::Client> client, std::vector<std::string> values)
      : client_(std::move(client)), values_(std::move(values)) {}

  // Instance i with its usual record, or (`address` set) moved there.
  void Put(int i, const std::string& address = "") {
    etcdserverpb::PutRequest put;
    put.set_key(InstanceKey(kService, InstanceId(i)));
    put.set_value(address.empty() ? values_[i] : Record(i, address));
    if (auto done = client_->Put(put); !done.ok()) Die("put", done.status());
  }

  void Delete(int i) {
    etcdserverpb::DeleteRangeRequest del;
    del.set_key(InstanceKey(kService, InstanceId(i)));
    if (auto done = client_->DeleteRange(del); !done.ok()) {
      Die("delete", done.status());
    }
  }

 private:
  const std::shared_ptr<etcd::Client> client_;
  const std::vector<std::string> values_;  // record of each instance
};

std::vector<std::string> MakeRecords(const Config& config,
                                     const std::vector<std::string>& live) {
  std::vector<std::string> values;
  values.reserve(config.instances);
  for (int i = 0; i < config.instances; ++i) {
    values.push_back(Record(i, i < static_cast<int>(live.size())
                                   ? live[i]
                                   : UnreachableAddress(i)));
  }
  return values;
}

// With --fresh_addresses, the k-th re-registration by writer thread `t`
// takes an address no instance had before (until the 50,000 hosts of
// UnreachableAddress() wrap around).
std::string FreshAddress(const Config& config, int t, int64_t k) {
  if (!config.fresh_addresses) return "";
  const int64_t hosts = 250 * 200 - config.instances;
  return UnreachableAddress(config.instances +
                            static_cast<int>((k * config.writers + t) % hosts));
}

// Writer thread `t` of `n` owns the unreachable instances i with i % n == t
// and toggles them in turn until `events` of its share are done.
void ChurnShare(Writer& writer, const Config& config, int t,
                std::atomic<int64_t>& done) {
  std::vector<int> mine;
  for (int i = config.reachable; i < config.instances; ++i) {
    if (i % config.writers == t) mine.push_back(i);
  }
  if (mine.empty()) return;
  std::vector<bool> registered(mine.size(), true);
  const int64_t share = config.events / config.writers +
                        (t < config.events % config.writers ? 1 : 0);
  for (int64_t e = 0; e < share; ++e) {
    const size_t k = static_cast<size_t>(e) % mine.size();
    if (registered[k]) {
      writer.Delete(mine[k]);
    } else {
      writer.Put(mine[k], FreshAddress(config, t, e));
    }
    registered[k] = !registered[k];
    done.fetch_add(1, std::memory_order_relaxed);
  }
  // Back to the baseline's set: every instance registered.
  for (size_t k = 0; k < mine.size(); ++k) {
    if (!registered[k]) writer.Put(mine[k]);
  }
}

void RunChurn(Writer& writer, const Config& config) {
  const std::string dir = config.child_dir;
  std::atomic<int64_t> done{0};
  std::atomic<bool> finished{false};
  const absl::Time begin = absl::Now();
  std::thread reporter([&] {
    while (!finished.load()) {
      WriteFileAtomically(dir + "/progress", absl::StrCat(done.load()));
      absl::SleepFor(absl::Milliseconds(100));
    }
  });
  std::vector<std::thread> threads;
  threads.reserve(config.writers);
  for (int t = 0; t < config.writers; ++t) {
    threads.emplace_back([&, t] { ChurnShare(writer, config, t, done); });
  }
  for (std::thread& thread : threads) thread.join();
  finished = true;
  reporter.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - begin);
  WriteFileAtomically(dir + "/progress", absl::StrCat(done.load()));
  WriteFileAtomically(dir + "/done", absl::StrFormat("%.3f", seconds));
}

int RunChild(const Config& config) {
  std::vector<EchoServer> servers;
  std::vector<std::string> live;
  for (int i = 0; i < config.reachable; ++i) {
    servers.push_back(StartEchoServer(InstanceId(i)));
    live.push_back(servers.back().address);
  }
  etcd::ClientOptions options;
  options.endpoints = {config.etcd};
  auto client = etcd::Client::Create(options);
  if (!client.ok()) Die("etcd client", client.status());
  Writer writer(std::shared_ptr<etcd::Client>(std::move(*client)),
                MakeRecords(config, live));
  for (int i = 0; i < config.instances; ++i) writer.Put(i);
  WriteFileAtomically(config.child_dir + "/ready", "1");
  if (!WaitForFile(config.child_dir + "/go", absl::Minutes(10))) return 1;
  RunChurn(writer, config);
  // The servers stay up until the client is done and kills this process.
  while (true) absl::SleepFor(absl::Seconds(1));
}

// --- The client's view of itself --------------------------------------------

struct Sample {
  double seconds = 0;  // since the start of the churn
  int64_t events = 0;  // done by the writer so far
  int64_t rss = 0;
  int64_t heap_in_use = 0;  // mallinfo2: allocated, arenas + mmapped
  int64_t heap_held = 0;    // mallinfo2: obtained from the system
  int arenas = 0;
  int threads = 0;
  std::map<std::string, int> thread_names;  // comm -> count
};

int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// Thread names without trailing digits, so pools show as one line.
std::map<std::string, int> ThreadNames() {
  std::map<std::string, int> names;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/self/task")) {
    std::string name;
    ReadFile(task.path().string() + "/comm", &name);
    name = std::string(absl::StripTrailingAsciiWhitespace(name));
    while (!name.empty() && std::isdigit(static_cast<uint8_t>(name.back()))) {
      name.pop_back();
    }
    ++names[name.empty() ? "?" : name];
  }
  return names;
}

// malloc_info() lists one <heap nr=...> element per arena.
int MallocArenas() {
  char* text = nullptr;
  size_t size = 0;
  FILE* stream = open_memstream(&text, &size);
  if (stream == nullptr) return 0;
  malloc_info(0, stream);
  std::fclose(stream);
  int arenas = 0;
  for (const char* p = text; (p = std::strstr(p, "<heap nr=")) != nullptr;
       ++p) {
    ++arenas;
  }
  std::free(text);
  return arenas;
}

Sample TakeSample(absl::Time churn_begin, const std::string& dir) {
  Sample sample;
  sample.seconds = absl::ToDoubleSeconds(absl::Now() - churn_begin);
  sample.events = ReadNumberFile(dir + "/progress");
  sample.rss = ResidentBytes();
  const struct mallinfo2 info = mallinfo2();
  sample.heap_in_use = static_cast<int64_t>(info.uordblks + info.hblkhd);
  sample.heap_held = static_cast<int64_t>(info.arena + info.hblkhd);
  sample.arenas = MallocArenas();
  sample.thread_names = ThreadNames();
  for (const auto& [name, count] : sample.thread_names) sample.threads += count;
  return sample;
}

// Samples until RSS and the thread count stop moving: over the last 3 s
// RSS stays within 1% (or 256 KiB) and the thread count is constant. At
// least `least`, at most `least + most_more`. Returns the last sample.
Sample WaitForSettle(absl::Time churn_begin, const std::string& dir,
                     absl::Duration least, absl::Duration most_more) {
  const absl::Time begin = absl::Now();
  const size_t window = static_cast<size_t>(absl::Seconds(3) / kSamplePeriod);
  std::vector<Sample> recent;
  while (true) {
    absl::SleepFor(kSamplePeriod);
    recent.push_back(TakeSample(churn_begin, dir));
    if (recent.size() > window) recent.erase(recent.begin());
    const absl::Duration waited = absl::Now() - begin;
    if (waited >= least + most_more) break;
    if (waited < least || recent.size() < window) continue;
    auto [lo, hi] = std::minmax_element(
        recent.begin(), recent.end(),
        [](const Sample& a, const Sample& b) { return a.rss < b.rss; });
    const bool rss_still =
        hi->rss - lo->rss <= std::max<int64_t>(256 << 10, hi->rss / 100);
    const bool threads_still = std::all_of(
        recent.begin(), recent.end(),
        [&](const Sample& s) { return s.threads == recent.back().threads; });
    if (rss_still && threads_still) break;
  }
  return recent.back();
}

// --- The client's load -------------------------------------------------------

class Caller {
 public:
  explicit Caller(std::shared_ptr<grpc::Channel> channel)
      : stub_(api::Api::NewStub(std::move(channel))),
        thread_([this] { Loop(); }) {}
  ~Caller() {
    stop_ = true;
    thread_.join();
  }
  int64_t ok() const { return ok_.load(); }
  int64_t errors() const { return errors_.load(); }

 private:
  void Loop() {
    while (!stop_.load()) {
      grpc::ClientContext context;
      context.AddMetadata(kDefaultVersionHeader, kCallVersion);
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
      api::Request request;
      api::Response response;
      const grpc::Status status = stub_->ApiTest(&context, request, &response);
      (status.ok() ? ok_ : errors_).fetch_add(1);
      absl::SleepFor(kCallPeriod);
    }
  }

  std::unique_ptr<api::Api::Stub> stub_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> ok_{0};
  std::atomic<int64_t> errors_{0};
  std::thread thread_;  // last: starts once the rest is ready
};

std::shared_ptr<grpc::Channel> MakeChannel(const Config& config,
                                           const std::string& etcd) {
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(VersionServiceConfig());
  if (config.local_subchannel_pool) {
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  }
  auto channel =
      grpc::CreateCustomChannel(absl::StrCat("etcd://", etcd, "/", kService),
                                grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(
          absl::ToChronoTime(absl::Now() + absl::Seconds(30)))) {
    Die("channel", absl::DeadlineExceededError("not READY within 30 s"));
  }
  return channel;
}

// --- Report
// --------------------------------------------------------------------

double Mib(int64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

std::string Row(const std::string& phase, const Sample& s) {
  return absl::StrFormat("| %s | %.1f | %d | %.1f | %.1f | %.1f | %d | %d |",
                         phase, s.seconds, s.events, Mib(s.rss),
                         Mib(s.heap_in_use), Mib(s.heap_held), s.arenas,
                         s.threads);
}

std::string ThreadsText(const Sample& s) {
  std::vector<std::string> parts;
  for (const auto& [name, count] : s.thread_names) {
    parts.push_back(absl::StrCat(name, " ", count));
  }
  return absl::StrJoin(parts, ", ");
}

std::string SampleJson(const Sample& s) {
  std::vector<std::string> names;
  for (const auto& [name, count] : s.thread_names) {
    names.push_back(absl::StrCat("\"", name, "\":", count));
  }
  return absl::StrCat("{\"seconds\":", Num(s.seconds), ",\"events\":", s.events,
                      ",\"rss_mb\":", Num(Mib(s.rss)),
                      ",\"heap_in_use_mb\":", Num(Mib(s.heap_in_use)),
                      ",\"heap_held_mb\":", Num(Mib(s.heap_held)),
                      ",\"arenas\":", s.arenas, ",\"threads\":", s.threads,
                      ",\"thread_names\":{", absl::StrJoin(names, ","), "}}");
}

struct Outcome {
  Sample baseline, peak_rss, peak_threads, after, after_trim;
  std::vector<Sample> during;
  double churn_seconds = 0;
  int64_t calls_ok = 0, calls_failed = 0;
};

double RssRatio(const Outcome& o) {
  return static_cast<double>(o.after.rss) / static_cast<double>(o.baseline.rss);
}

void PrintReport(const Config& config, const Outcome& o) {
  std::printf(
      "\n%d events (%.0f/s) on %d instances (%d reachable), %d writers\n\n",
      config.events, config.events / std::max(o.churn_seconds, 1e-9),
      config.instances, config.reachable, config.writers);
  std::printf(
      "| phase | t s | events | RSS MiB | heap in use MiB | heap held MiB "
      "| arenas | threads |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: "
      "| ---: |\n");
  std::printf("%s\n", Row("baseline", o.baseline).c_str());
  // About ten rows; the JSON has every sample.
  const size_t step = std::max<size_t>(1, (o.during.size() + 9) / 10);
  for (size_t i = 0; i < o.during.size(); ++i) {
    if (i % step == 0 || i + 1 == o.during.size()) {
      std::printf("%s\n", Row("during", o.during[i]).c_str());
    }
  }
  std::printf("%s\n", Row("peak RSS", o.peak_rss).c_str());
  std::printf("%s\n", Row("after", o.after).c_str());
  if (config.trim) {
    std::printf("%s\n", Row("after malloc_trim", o.after_trim).c_str());
  }
  std::printf("\nthreads at baseline: %s\n", ThreadsText(o.baseline).c_str());
  std::printf("threads at peak:     %s\n", ThreadsText(o.peak_threads).c_str());
  std::printf("threads after:       %s\n", ThreadsText(o.after).c_str());
  std::printf("calls: %lld ok, %lld failed\n",
              static_cast<long long>(o.calls_ok),
              static_cast<long long>(o.calls_failed));
  const double ratio = RssRatio(o);
  std::printf("RSS after / baseline: %.2fx (goal <= 1.5x: %s)\n", ratio,
              ratio <= 1.5 ? "PASS" : "MISS");
}

std::string OutcomeJson(const Config& config, const Outcome& o) {
  std::vector<std::string> during;
  for (const Sample& s : o.during) during.push_back(SampleJson(s));
  std::string json = absl::StrCat(
      "{\"bench\":\"churn\",\"events\":", config.events,
      ",\"instances\":", config.instances, ",\"reachable\":", config.reachable,
      ",\"writers\":", config.writers,
      ",\"settle_seconds\":", config.settle_seconds,
      ",\"fresh_addresses\":", config.fresh_addresses ? "true" : "false",
      ",\"arena_max\":", config.arena_max, ",\"local_subchannel_pool\":",
      config.local_subchannel_pool ? "true" : "false",
      ",\"churn_seconds\":", Num(o.churn_seconds), ",\"calls_ok\":", o.calls_ok,
      ",\"calls_failed\":", o.calls_failed,
      ",\"baseline\":", SampleJson(o.baseline),
      ",\"peak_rss\":", SampleJson(o.peak_rss),
      ",\"peak_threads\":", SampleJson(o.peak_threads),
      ",\"after\":", SampleJson(o.after));
  if (config.trim) {
    absl::StrAppend(&json, ",\"after_trim\":", SampleJson(o.after_trim));
  }
  absl::StrAppend(&json, ",\"rss_ratio\":", Num(RssRatio(o)), ",\"during\":[",
                  absl::StrJoin(during, ","), "]}");
  return json;
}

// --- The client --------------------------------------------------------------

// Samples during the churn until the writer is done; keeps every 1 s
// sample and the peaks.
void SampleChurn(const std::string& dir, absl::Time begin, Outcome* o) {
  o->peak_rss = o->peak_threads = o->baseline;
  absl::Time next_kept = begin;
  while (true) {
    const bool finished = std::filesystem::exists(dir + "/done");
    Sample s = TakeSample(begin, dir);
    if (s.rss > o->peak_rss.rss) o->peak_rss = s;
    if (s.threads > o->peak_threads.threads) o->peak_threads = s;
    if (absl::Now() >= next_kept || finished) {
      o->during.push_back(std::move(s));
      next_kept += absl::Seconds(1);
    }
    if (finished) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  std::string seconds;
  ReadFile(dir + "/done", &seconds);
  if (!absl::SimpleAtod(absl::StripAsciiWhitespace(seconds),
                        &o->churn_seconds)) {
    o->churn_seconds = 0;
  }
}

std::unique_ptr<testing::ChildProcess> SpawnChild(const Config& config,
                                                  const std::string& dir,
                                                  const std::string& etcd) {
  testing::ChildProcess::Options options;
  options.program = std::filesystem::read_symlink("/proc/self/exe").string();
  options.args = {absl::StrCat("--child_dir=", dir),
                  absl::StrCat("--etcd=", etcd),
                  absl::StrCat("--events=", config.events),
                  absl::StrCat("--instances=", config.instances),
                  absl::StrCat("--reachable=", config.reachable),
                  absl::StrCat("--writers=", config.writers)};
  if (config.fresh_addresses) options.args.push_back("--fresh_addresses");
  options.output_path = dir + "/child.log";
  auto child = testing::ChildProcess::Spawn(options);
  if (!child.ok()) Die("child", child.status());
  if (!WaitForFile(dir + "/ready", absl::Seconds(60))) {
    std::string log;
    ReadFile(options.output_path, &log);
    Die("child", absl::DeadlineExceededError(
                     absl::StrCat("not ready within 60 s; its log:\n", log)));
  }
  return *std::move(child);
}

Outcome RunClient(const Config& config, const std::string& dir,
                  const std::string& etcd) {
  Outcome o;
  std::shared_ptr<grpc::Channel> channel = MakeChannel(config, etcd);
  auto caller = std::make_unique<Caller>(channel);
  // Baseline: every subchannel has tried once, calls flow, nothing moves.
  o.baseline =
      WaitForSettle(absl::Now(), dir, absl::Seconds(3), absl::Seconds(20));
  const absl::Time begin = absl::Now();
  o.baseline.seconds = 0;
  WriteFileAtomically(dir + "/go", "1");
  SampleChurn(dir, begin, &o);
  o.after = WaitForSettle(begin, dir, absl::Seconds(config.settle_seconds),
                          absl::Seconds(60));
  if (config.trim) {
    malloc_trim(0);
    o.after_trim = TakeSample(begin, dir);
  }
  o.calls_ok = caller->ok();
  o.calls_failed = caller->errors();
  return o;
}

Config ParseConfig(int argc, char** argv) {
  ParseFlagsOrExit(kUsage, argc, argv);
  Config config;
  config.quick = absl::GetFlag(FLAGS_quick);
  config.events =
      absl::GetFlag(FLAGS_events).value_or(config.quick ? 3000 : 20000);
  config.instances = absl::GetFlag(FLAGS_instances);
  config.reachable = absl::GetFlag(FLAGS_reachable);
  config.writers = absl::GetFlag(FLAGS_writers);
  config.settle_seconds = absl::GetFlag(FLAGS_settle_seconds);
  config.arena_max = absl::GetFlag(FLAGS_arena_max);
  config.trim = absl::GetFlag(FLAGS_trim);
  config.local_subchannel_pool = absl::GetFlag(FLAGS_local_subchannel_pool);
  config.fresh_addresses = absl::GetFlag(FLAGS_fresh_addresses);
  config.json_out = absl::GetFlag(FLAGS_json_out);
  config.child_dir = absl::GetFlag(FLAGS_child_dir);
  config.etcd = absl::GetFlag(FLAGS_etcd);
  ExitOnBadValue(
      "churn_bench",
      {programs::CheckFlagRange("events", config.events, 1, 10000000),
       programs::CheckFlagRange("instances", config.instances, 2, 250 * 200),
       programs::CheckFlagRange("reachable", config.reachable, 1, 100),
       programs::CheckFlagRange("writers", config.writers, 1, 64),
       programs::CheckFlagRange("settle_seconds", config.settle_seconds, 0,
                                3600),
       programs::CheckFlagRange("arena_max", config.arena_max, 0, 1024)});
  if (config.reachable >= config.instances) {
    ExitOnBadValue(
        "churn_bench",
        {absl::InvalidArgumentError("--reachable must be below --instances")});
  }
  return config;
}

int Run(int argc, char** argv) {
  const Config config = ParseConfig(argc, argv);
  if (!config.child_dir.empty()) return RunChild(config);
  if (config.arena_max > 0) mallopt(M_ARENA_MAX, config.arena_max);
  RegisterPluginsOrDie();
  std::unique_ptr<testing::EtcdProcess> etcd = StartEtcdOrDie();
  std::string dir = "/tmp/churn_bench.XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) {
    Die("mkdtemp", absl::InternalError("cannot create a temp dir"));
  }
  std::unique_ptr<testing::ChildProcess> child =
      SpawnChild(config, dir, etcd->endpoint());
  const Outcome outcome = RunClient(config, dir, etcd->endpoint());
  child->Terminate(absl::Seconds(2));
  std::filesystem::remove_all(dir);
  PrintReport(config, outcome);
  const std::string json = OutcomeJson(config, outcome);
  std::printf("%s\n", json.c_str());
  if (!config.json_out.empty()) std::ofstream(config.json_out) << json << "\n";
  return 0;
}

}  // namespace
}  // namespace vlb::bench

int main(int argc, char** argv) { return vlb::bench::Run(argc, argv); }
