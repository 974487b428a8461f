// vlbctl against a real etcd, run as a process the way an operator runs
// it: every `routes` command, its output in both formats, its exit
// statuses and its error messages. What ends up in etcd is checked with
// etcdctl, not with vlbctl, so a command cannot vouch for itself.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "child_process.h"
#include "etcd_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "vlb/route_admin.h"
#include "vlb/service_instance.h"
#include "wait_for.h"

#ifndef VLBCTL_BIN
#define VLBCTL_BIN ""
#endif

namespace vlb {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::vlb::testing::ChildProcess;
using ::vlb::testing::CommandResult;
using ::vlb::testing::EtcdProcess;
using json = nlohmann::json;

// The document of issue 10.
constexpr char kExample[] = R"({
  "defaultVersion": "v1",
  "fallback": ["v1", "*"],
  "rules": [
    {"name": "gateway-v2-needs-app-v3",
     "when": {"callerService": "hwholiday.srv.gateway", "callerVersion": "^2"},
     "version": "v3"},
    {"name": "beta-users", "when": {"header": {"x-beta": "1"}}, "version": "^2.0.0-0"},
    {"name": "canary",
     "when": {"version": "v1"},
     "split": [{"version": "v1", "weight": 95}, {"version": "1.1.0-canary.1", "weight": 5}],
     "stickyHeader": "x-user-id"}
  ]
}
)";
constexpr char kPinned[] = R"({"defaultVersion": "v2"})";
// A misspelt field: clients refuse it naming rules[0].stickyHeadr.
constexpr char kInvalid[] =
    R"({"rules": [{"name": "canary", "when": {"version": "v1"},
         "split": [{"version": "v1", "weight": 9}, {"version": "v2", "weight": 1}],
         "stickyHeadr": "x-user-id"}]})";

// The command list vlbctl names in its usage errors.
const std::string kCommandNames =
    "list, watch, drain, undrain, weight, routes, explain, help";

// What etcd holds at a key, as etcdctl sees it.
struct EtcdValue {
  std::string value;
  int64_t mod_revision = 0;
  int64_t create_revision = 0;
  int64_t lease = 0;  // 0: none
};

class VlbctlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<EtcdProcess>> etcd = EtcdProcess::Start();
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = etcd->release();
    char pattern[] = "/tmp/vlbctl-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = new std::string(pattern);
  }
  static void TearDownTestSuite() {
    delete etcd_;
    etcd_ = nullptr;
    if (dir_ != nullptr) std::system(absl::StrCat("rm -rf ", *dir_).c_str());
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    if (std::string(VLBCTL_BIN).empty()) {
      GTEST_SKIP() << "built without VLB_BUILD_TOOLS";
    }
    ASSERT_NE(etcd_, nullptr);
  }

  // Runs vlbctl with `args` against the suite's etcd.
  static CommandResult Vlbctl(std::vector<std::string> args) {
    args.push_back(absl::StrCat("--etcd=", etcd_->endpoint()));
    return Run(VLBCTL_BIN, args);
  }

  static CommandResult Run(const std::string& program,
                           const std::vector<std::string>& args) {
    absl::StatusOr<CommandResult> result =
        vlb::testing::RunCommand(program, args, {}, absl::Seconds(30));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : CommandResult();
  }

  // Runs vlbctl with `args`, its stdin read from `file`.
  static CommandResult VlbctlWithStdin(const std::vector<std::string>& args,
                                       const std::string& file) {
    std::vector<std::string> sh = {"-c", "exec \"$0\" \"$@\" < \"$VLBCTL_IN\"",
                                   VLBCTL_BIN};
    sh.insert(sh.end(), args.begin(), args.end());
    sh.push_back(absl::StrCat("--etcd=", etcd_->endpoint()));
    absl::StatusOr<CommandResult> result = vlb::testing::RunCommand(
        "/bin/sh", sh, {{"VLBCTL_IN", file}}, absl::Seconds(30));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : CommandResult();
  }

  static std::string WriteFile(const std::string& name,
                               const std::string& text) {
    const std::string path = absl::StrCat(*dir_, "/", name);
    std::ofstream(path) << text;
    return path;
  }

  static std::optional<EtcdValue> ReadEtcd(const std::string& key) {
    absl::StatusOr<std::string> out =
        etcd_->Etcdctl({"get", key, "-w", "json"});
    EXPECT_TRUE(out.ok()) << out.status();
    if (!out.ok()) return std::nullopt;
    const json parsed = json::parse(*out);
    if (!parsed.contains("kvs") || parsed["kvs"].empty()) return std::nullopt;
    EtcdValue value;
    // etcdctl's JSON carries values base64-encoded.
    EXPECT_TRUE(absl::Base64Unescape(
        parsed["kvs"][0]["value"].get<std::string>(), &value.value));
    value.mod_revision = parsed["kvs"][0]["mod_revision"].get<int64_t>();
    value.create_revision = parsed["kvs"][0]["create_revision"].get<int64_t>();
    value.lease = parsed["kvs"][0].value("lease", int64_t{0});
    return value;
  }

  static std::string Key(const std::string& service) {
    return absl::StrCat("/vlb/routes/", service);
  }

  // `routes set` of `text` for `service`, which must succeed; returns the
  // revision it printed.
  static int64_t SetOrDie(const std::string& service, const std::string& text) {
    const CommandResult set = Vlbctl(
        {"routes", "set", service, WriteFile(service, text), "--output=json"});
    EXPECT_EQ(set.exit_code, 0) << set.stderr_text;
    const json out = json::parse(set.stdout_text, nullptr, false);
    return out.is_object() ? out.value("revision", int64_t{-1}) : -1;
  }

  // A real registration: vlb_register (built next to vlbctl) keeping
  // instance `id` of `service` registered until the returned process ends.
  // Waits for its key, so the record is there when this returns.
  static std::unique_ptr<ChildProcess> Register(
      const std::string& service, const std::string& id,
      const std::string& address, uint32_t weight = 1,
      const std::string& version = "v1", const std::string& lane = "") {
    const std::string bin = VLBCTL_BIN;
    ChildProcess::Options options;
    options.program = bin.substr(0, bin.rfind('/') + 1) + "vlb_register";
    options.args = {"--service=" + service,
                    "--id=" + id,
                    "--version=" + version,
                    "--address=" + address,
                    absl::StrCat("--weight=", weight),
                    "--ttl_seconds=10",
                    "--etcd=" + etcd_->endpoint()};
    if (!lane.empty()) options.args.push_back("--lane=" + lane);
    absl::StatusOr<std::unique_ptr<ChildProcess>> child =
        ChildProcess::Spawn(options);
    EXPECT_TRUE(child.ok()) << child.status();
    if (!child.ok()) return nullptr;
    const std::string key = InstanceKey(service, id);
    EXPECT_TRUE(vlb::testing::WaitFor([&] { return ReadEtcd(key).has_value(); },
                                      absl::Seconds(20)))
        << "vlb_register did not register " << key;
    return *std::move(child);
  }

  // The record at `key`, decoded; fails the test when there is none.
  static ServiceInstance RecordAt(const std::string& key) {
    const std::optional<EtcdValue> value = ReadEtcd(key);
    EXPECT_TRUE(value.has_value()) << key;
    if (!value.has_value()) return {};
    absl::StatusOr<ServiceInstance> record = DecodeServiceRecord(value->value);
    EXPECT_TRUE(record.ok()) << record.status();
    return record.ok() ? *record : ServiceInstance();
  }

  static std::string FileText(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // Starts `vlbctl watch <args>` against the suite's etcd, its output to
  // `output`, and waits until it announces its listing: changes after that
  // are reported. nullptr after a test failure.
  static std::unique_ptr<ChildProcess> StartWatch(std::vector<std::string> args,
                                                  const std::string& output) {
    ChildProcess::Options options;
    options.program = VLBCTL_BIN;
    options.args = {"watch"};
    options.args.insert(options.args.end(), args.begin(), args.end());
    options.args.push_back("--etcd=" + etcd_->endpoint());
    options.output_path = output;
    absl::StatusOr<std::unique_ptr<ChildProcess>> watch =
        ChildProcess::Spawn(options);
    EXPECT_TRUE(watch.ok()) << watch.status();
    if (!watch.ok()) return nullptr;
    const bool watching = vlb::testing::WaitFor(
        [&] { return absl::StrContains(FileText(output), "vlbctl: watching"); },
        absl::Seconds(20));
    EXPECT_TRUE(watching) << FileText(output);
    return watching ? *std::move(watch) : nullptr;
  }

  static EtcdProcess* etcd_;
  static std::string* dir_;
};

EtcdProcess* VlbctlTest::etcd_ = nullptr;
std::string* VlbctlTest::dir_ = nullptr;

TEST_F(VlbctlTest, HelpOfTheToolAndOfEveryCommandExitsZero) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--help"},
                                             {"help"},
                                             {"help", "routes"},
                                             {"routes", "--help"},
                                             {"routes", "set", "--help"},
                                             {"routes", "-h"},
                                             {"list", "--help"},
                                             {"watch", "--help"},
                                             {"drain", "--help"},
                                             {"undrain", "--help"},
                                             {"weight", "--help"},
                                             {"explain", "--help"},
                                             {"help", "weight"}}) {
    const CommandResult help = Run(VLBCTL_BIN, args);
    EXPECT_EQ(help.exit_code, 0) << args.back() << help.stderr_text;
    EXPECT_THAT(help.stdout_text, HasSubstr("Usage: vlbctl")) << args.back();
    EXPECT_THAT(help.stdout_text, HasSubstr("--etcd ")) << args.back();
    EXPECT_THAT(help.stdout_text, HasSubstr("--output ")) << args.back();
  }
  const CommandResult tool = Run(VLBCTL_BIN, {"--help"});
  for (const char* command : {"routes ", "list ", "watch ", "drain ",
                              "undrain ", "weight ", "explain "}) {
    EXPECT_THAT(tool.stdout_text, HasSubstr(command));
  }
  EXPECT_THAT(Run(VLBCTL_BIN, {"list", "--help"}).stdout_text,
              HasSubstr("AGE (revisions since the"));
  EXPECT_THAT(Run(VLBCTL_BIN, {"watch", "--help"}).stdout_text,
              HasSubstr("--max_events "));
  const CommandResult routes = Run(VLBCTL_BIN, {"routes", "--help"});
  for (const char* text :
       {"routes get SERVICE", "routes validate [FILE|-]", "routes set SERVICE",
        "routes delete SERVICE", "--if_revision ", "--routes_root "}) {
    EXPECT_THAT(routes.stdout_text, HasSubstr(text));
  }
}

TEST_F(VlbctlTest, BadCommandLinesExitTwoAndSayWhy) {
  struct Case {
    std::vector<std::string> args;
    std::string mentions;
  };
  for (const Case& c : std::vector<Case>{
           {{}, "no command given; commands: " + kCommandNames},
           {{"bogus"}, "unknown command \"bogus\"; commands: " + kCommandNames},
           {{"help", "bogus"}, "unknown command \"bogus\""},
           {{"routes"}, "get, set, validate or delete"},
           {{"routes", "frobnicate"}, "unknown subcommand \"frobnicate\""},
           {{"routes", "get"}, "usage: vlbctl routes get SERVICE"},
           {{"routes", "get", "a.b", "c"}, "usage: vlbctl routes get SERVICE"},
           {{"routes", "validate", "a", "b"}, "usage: vlbctl routes validate"},
           {{"routes", "set"}, "usage: vlbctl routes set"},
           {{"routes", "delete"}, "usage: vlbctl routes delete SERVICE"},
           {{"routes", "get", "a.b", "--if-revision=3"}, "for routes set only"},
           {{"routes", "set", "a.b", "f", "--if-revision=-1"}, "negative"},
           {{"routes", "set", "a.b", "f", "--if-revision=x"}, "if_revision"},
           {{"routes", "get", "a.b", "--output=xml"}, "neither table nor json"},
           {{"routes", "get", "a.b", "--timeout=0s"}, "--timeout"},
           {{"routes", "get", "a.b", "--bogus"}, "unknown flag --bogus"},
           {{"list", "a.b", "c"}, "usage: vlbctl list [SERVICE]"},
           {{"list", "a/b"}, "SERVICE: "},
           {{"drain"}, "usage: vlbctl drain SERVICE ID"},
           {{"drain", "a.b"}, "usage: vlbctl drain SERVICE ID"},
           {{"undrain", "a.b", "x", "y"}, "usage: vlbctl undrain SERVICE ID"},
           {{"drain", "a.b", "x/y"}, "ID: "},
           {{"weight", "a.b", "x"}, "usage: vlbctl weight SERVICE ID N"},
           {{"weight", "a.b", "x", "ten"}, "N: \"ten\" is not an integer"},
           {{"weight", "a.b", "x", "10001"}, "in [0, 10000]"},
           {{"weight", "a.b", "x", "1.5"}, "N: \"1.5\""},
           {{"weight", "a.b", "x", "+5"}, "N: \"+5\""},
           {{"watch"}, "usage: vlbctl watch SERVICE"},
           {{"watch", "a.b", "--max_events=-1"}, "--max_events"},
           {{"explain"}, "usage: vlbctl explain SERVICE"},
           {{"explain", "a/b"}, "SERVICE: "},
           {{"explain", "a.b", "--header=novalue"}, "--header: \"novalue\""},
           {{"explain", "a.b", "--caller=gateway"}, "not SERVICE@VERSION"},
           {{"explain", "a.b", "--fallback=^"},
            "VersionPolicyOptions.fallback[0]"},
           {{"explain", "a.b", "--strict_lanes=Bad Lane"},
            "VersionPolicyOptions.strict_lanes[0]"},
       }) {
    const CommandResult result = Vlbctl(c.args);
    const std::string what = c.args.empty() ? "(none)" : c.args.back();
    EXPECT_EQ(result.exit_code, 2) << what << ": " << result.stderr_text;
    EXPECT_THAT(result.stderr_text, HasSubstr(c.mentions)) << what;
    EXPECT_THAT(result.stderr_text, HasSubstr("--help for usage")) << what;
    EXPECT_EQ(result.stdout_text, "") << what;
  }
}

TEST_F(VlbctlTest, GetOfAMissingDocumentFailsNamingTheKey) {
  const CommandResult get = Vlbctl({"routes", "get", "vlb.test.missing"});
  EXPECT_EQ(get.exit_code, 1);
  EXPECT_THAT(get.stderr_text,
              HasSubstr("no route document at /vlb/routes/vlb.test.missing"));
  EXPECT_EQ(get.stdout_text, "");
}

TEST_F(VlbctlTest, ValidateAcceptsTheIssueExampleWithoutEtcd) {
  const std::string file = WriteFile("example.json", kExample);
  // No etcd behind this endpoint: validate must not need one.
  const CommandResult table =
      Run(VLBCTL_BIN, {"routes", "validate", file, "--etcd=127.0.0.1:1"});
  EXPECT_EQ(table.exit_code, 0) << table.stderr_text;
  EXPECT_THAT(table.stdout_text, HasSubstr("SOURCE"));
  EXPECT_THAT(table.stdout_text, HasSubstr("yes    3"));

  const CommandResult from_stdin =
      VlbctlWithStdin({"routes", "validate", "-", "--output=json"}, file);
  EXPECT_EQ(from_stdin.exit_code, 0) << from_stdin.stderr_text;
  EXPECT_EQ(json::parse(from_stdin.stdout_text),
            json({{"source", "stdin"}, {"valid", true}, {"rules", 3}}));
  const CommandResult no_operand =
      VlbctlWithStdin({"routes", "validate"}, file);
  EXPECT_EQ(no_operand.exit_code, 0) << no_operand.stderr_text;
}

TEST_F(VlbctlTest, ValidateRefusesPrintingTheMessageClientsLog) {
  const std::string file = WriteFile("invalid.json", kInvalid);
  const std::string message(ValidateRouteDocument(kInvalid).message());
  ASSERT_THAT(message, HasSubstr("rules[0].stickyHeadr: unknown field"));

  const CommandResult table = Vlbctl({"routes", "validate", file});
  EXPECT_EQ(table.exit_code, 1);
  EXPECT_THAT(table.stderr_text,
              HasSubstr(absl::StrCat("routes validate ", file, ": ", message)));
  const CommandResult json_out =
      Vlbctl({"routes", "validate", file, "--output=json"});
  EXPECT_EQ(json_out.exit_code, 1);
  EXPECT_EQ(json::parse(json_out.stdout_text),
            json({{"source", file}, {"valid", false}, {"error", message}}));

  const CommandResult missing =
      Vlbctl({"routes", "validate", absl::StrCat(*dir_, "/nope.json")});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.stderr_text, HasSubstr("nope.json: No such file"));
}

TEST_F(VlbctlTest, SetThenGetReturnsTheDocumentAndItsRevision) {
  const std::string service = "vlb.test.setget";
  const CommandResult set =
      Vlbctl({"routes", "set", service, WriteFile("setget.json", kExample)});
  ASSERT_EQ(set.exit_code, 0) << set.stderr_text;
  const std::optional<EtcdValue> stored = ReadEtcd(Key(service));
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->value, kExample);
  EXPECT_THAT(set.stdout_text, HasSubstr(absl::StrCat(Key(service), "  ",
                                                      stored->mod_revision)));

  // Flags may come before the command, too.
  const CommandResult get =
      Vlbctl({"--output", "json", "routes", "get", service});
  ASSERT_EQ(get.exit_code, 0) << get.stderr_text;
  const json out = json::parse(get.stdout_text);
  EXPECT_EQ(out["key"], Key(service));
  EXPECT_EQ(out["service"], service);
  EXPECT_EQ(out["revision"], stored->mod_revision);
  EXPECT_EQ(out["valid"], true);
  EXPECT_EQ(out["text"], kExample);
  EXPECT_EQ(out["document"], json::parse(kExample));

  const CommandResult table = Vlbctl({"routes", "get", service});
  ASSERT_EQ(table.exit_code, 0) << table.stderr_text;
  // Aligned columns: each as wide as its widest cell, then two spaces;
  // the key "/vlb/routes/vlb.test.setget" is 27 characters wide.
  const std::string revision =
      absl::StrFormat("%-8d", stored->mod_revision);  // under "REVISION"
  EXPECT_EQ(
      table.stdout_text,
      absl::StrCat("KEY", std::string(27 - 3 + 2, ' '), "REVISION  VALID\n",
                   Key(service), "  ", revision, "  yes\n\n", kExample));
}

TEST_F(VlbctlTest, SetReadsStdinAndHonoursTheRoutesRoot) {
  const std::string file = WriteFile("stdin.json", kPinned);
  const CommandResult set = VlbctlWithStdin(
      {"routes", "set", "vlb.test.root", "-", "--routes_root=/other/routes/"},
      file);
  ASSERT_EQ(set.exit_code, 0) << set.stderr_text;
  const std::optional<EtcdValue> stored =
      ReadEtcd("/other/routes/vlb.test.root");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->value, kPinned);
  EXPECT_FALSE(ReadEtcd(Key("vlb.test.root")).has_value());
  const CommandResult bad_root =
      Vlbctl({"routes", "get", "vlb.test.root", "--routes_root=/no/slash"});
  EXPECT_EQ(bad_root.exit_code, 1);
  EXPECT_THAT(bad_root.stderr_text, HasSubstr("routes root \"/no/slash\""));
}

TEST_F(VlbctlTest, SetRefusesAnInvalidDocumentAndWritesNothing) {
  const std::string service = "vlb.test.invalid";
  const std::string message(ValidateRouteDocument(kInvalid).message());
  const CommandResult refused =
      Vlbctl({"routes", "set", service, WriteFile("refused.json", kInvalid)});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.stderr_text, HasSubstr("nothing written"));
  EXPECT_THAT(refused.stderr_text, HasSubstr(message));
  EXPECT_FALSE(ReadEtcd(Key(service)).has_value());

  // Over a good document, too: the good one stays.
  const int64_t revision = SetOrDie(service, kPinned);
  EXPECT_EQ(
      Vlbctl({"routes", "set", service, WriteFile("refused.json", kInvalid)})
          .exit_code,
      1);
  const std::optional<EtcdValue> stored = ReadEtcd(Key(service));
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->value, kPinned);
  EXPECT_EQ(stored->mod_revision, revision);
}

TEST_F(VlbctlTest, SetWithAStaleRevisionIsRefusedNamingTheCurrentOne) {
  const std::string service = "vlb.test.cas";
  const int64_t first = SetOrDie(service, kPinned);
  const int64_t second = SetOrDie(service, kExample);
  ASSERT_GT(second, first);

  const CommandResult stale =
      Vlbctl({"routes", "set", service, WriteFile("cas.json", kPinned),
              absl::StrCat("--if-revision=", first)});
  EXPECT_EQ(stale.exit_code, 1);
  EXPECT_THAT(stale.stderr_text,
              HasSubstr(absl::StrCat(Key(service), " is at revision ", second,
                                     ", not at revision ", first)));
  EXPECT_EQ(ReadEtcd(Key(service))->value, kExample);

  const CommandResult current =
      Vlbctl({"routes", "set", service, WriteFile("cas.json", kPinned),
              absl::StrCat("--if_revision=", second), "--output=json"});
  ASSERT_EQ(current.exit_code, 0) << current.stderr_text;
  const std::optional<EtcdValue> stored = ReadEtcd(Key(service));
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->value, kPinned);
  EXPECT_EQ(json::parse(current.stdout_text)["revision"], stored->mod_revision);
}

TEST_F(VlbctlTest, IfRevisionZeroCreatesOnlyWhenAbsent) {
  const std::string service = "vlb.test.create";
  const std::string file = WriteFile("create.json", kPinned);
  const CommandResult created =
      Vlbctl({"routes", "set", service, file, "--if-revision=0"});
  ASSERT_EQ(created.exit_code, 0) << created.stderr_text;
  const std::optional<EtcdValue> stored = ReadEtcd(Key(service));
  ASSERT_TRUE(stored.has_value());

  const CommandResult again =
      Vlbctl({"routes", "set", service, WriteFile("create2.json", kExample),
              "--if-revision=0"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.stderr_text,
              HasSubstr(absl::StrCat("is at revision ", stored->mod_revision,
                                     ", not absent (revision 0)")));
  EXPECT_EQ(ReadEtcd(Key(service))->value, kPinned);
}

TEST_F(VlbctlTest, DeleteRemovesTheDocumentAndFailsWhenThereIsNone) {
  const std::string service = "vlb.test.delete";
  const int64_t revision = SetOrDie(service, kPinned);
  const CommandResult deleted =
      Vlbctl({"routes", "delete", service, "--output=json"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.stderr_text;
  const json out = json::parse(deleted.stdout_text);
  EXPECT_EQ(out["key"], Key(service));
  EXPECT_EQ(out["deleted"], true);
  EXPECT_GT(out["revision"].get<int64_t>(), revision);
  EXPECT_FALSE(ReadEtcd(Key(service)).has_value());

  const CommandResult missing = Vlbctl({"routes", "delete", service});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.stderr_text,
              HasSubstr(absl::StrCat("no route document at ", Key(service))));
  EXPECT_EQ(missing.stdout_text, "");
}

TEST_F(VlbctlTest, GetShowsADocumentClientsWouldRefuse) {
  const std::string service = "vlb.test.tampered";
  ASSERT_TRUE(etcd_->Etcdctl({"put", Key(service), "{\"rules\": 3}"}).ok());
  const std::string message(ValidateRouteDocument("{\"rules\": 3}").message());
  const CommandResult table = Vlbctl({"routes", "get", service});
  EXPECT_EQ(table.exit_code, 0) << table.stderr_text;
  EXPECT_THAT(table.stdout_text, HasSubstr("  no\n"));
  EXPECT_THAT(table.stdout_text, HasSubstr(absl::StrCat("error: ", message)));
  const CommandResult json_out =
      Vlbctl({"routes", "get", service, "--output=json"});
  const json out = json::parse(json_out.stdout_text);
  EXPECT_EQ(out["valid"], false);
  EXPECT_EQ(out["error"], message);
}

TEST_F(VlbctlTest, AnUnreachableEtcdFailsNamingTheEndpoint) {
  absl::StatusOr<int> port = vlb::testing::PickFreePort();
  ASSERT_TRUE(port.ok()) << port.status();
  const std::string endpoint = absl::StrCat("127.0.0.1:", *port);
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"routes", "get", "vlb.test.down"},
           {"routes", "set", "vlb.test.down", WriteFile("down.json", kPinned)},
           {"routes", "delete", "vlb.test.down"},
           {"explain", "vlb.test.down"}}) {
    std::vector<std::string> with_etcd = args;
    with_etcd.push_back(absl::StrCat("--etcd=", endpoint));
    with_etcd.push_back("--timeout=2s");
    const CommandResult result = Run(VLBCTL_BIN, with_etcd);
    EXPECT_EQ(result.exit_code, 1) << args[1];
    EXPECT_THAT(result.stderr_text, HasSubstr(endpoint)) << args[1];
    if (args[0] == "routes") {
      EXPECT_THAT(result.stderr_text, HasSubstr("/vlb/routes/vlb.test.down"))
          << args[1];
    }
  }
}

// explain runs the clients' rule engine and pick table over what etcd holds.
TEST_F(VlbctlTest, ExplainNamesTheRuleTheRequestAndWhoIsEligible) {
  const std::string service = "vlb.explain.svc";
  std::vector<std::unique_ptr<ChildProcess>> instances;
  instances.push_back(Register(service, "x-1", "127.0.0.1:9021", 1, "v1"));
  instances.push_back(Register(service, "x-2", "127.0.0.1:9022", 1, "v1"));
  instances.push_back(Register(service, "x-3", "127.0.0.1:9023", 1, "v2"));
  instances.push_back(
      Register(service, "x-4", "127.0.0.1:9024", 1, "v1", "feature-x"));
  for (const auto& i : instances) ASSERT_NE(i, nullptr);
  ASSERT_EQ(Vlbctl({"drain", service, "x-2"}).exit_code, 0);
  ASSERT_EQ(
      Vlbctl({"routes", "set", service, WriteFile("explain.json", R"({"rules": [
      {"name": "gw", "when": {"callerService": "hw.gateway"}, "version": "v2"},
      {"name": "beta", "when": {"header": {"x-beta": "1"}}, "version": "v2"}]})")})
          .exit_code,
      0);
  // The verdicts of `vlbctl explain service args... --output=json`.
  auto explain = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"explain", service});
    args.push_back("--output=json");
    const CommandResult result = Vlbctl(args);
    EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
    json out = json::parse(result.stdout_text, nullptr, false);
    EXPECT_TRUE(out.is_object()) << result.stdout_text;
    std::map<std::string, std::string> verdicts;
    if (!out.is_object()) return std::make_pair(out, verdicts);
    for (const json& v : out["instances"]) {
      verdicts[v["id"]] = v["eligible"].get<bool>() ? "yes" : v["reason"];
    }
    return std::make_pair(out, verdicts);
  };
  auto [v1, v1_verdicts] = explain({"--version=v1"});
  EXPECT_EQ(v1["rule"], "");
  EXPECT_EQ(v1["request"], "v1");
  EXPECT_EQ(v1["outcome"], "picked");
  EXPECT_EQ(v1_verdicts, (std::map<std::string, std::string>{
                             {"x-1", "yes"},
                             {"x-2",
                              "drained; undrained instances serve the "
                              "call"},
                             {"x-3", "version \"v2\" does not match \"v1\""},
                             {"x-4",
                              "in lane \"feature-x\"; the call has "
                              "none"}}));
  auto [beta, beta_verdicts] = explain({"--version=v1", "--header=x-beta=1"});
  EXPECT_EQ(beta["rule"], "beta");
  EXPECT_EQ(beta["source"], "route rule");
  EXPECT_EQ(beta_verdicts["x-3"], "yes");
  auto [gw, gw_verdicts] = explain({"--caller=hw.gateway@1.0.0"});
  EXPECT_EQ(gw["rule"], "gw");
  EXPECT_EQ(gw_verdicts["x-3"], "yes");
  auto [lane, lane_verdicts] = explain({"--version=v1", "--lane=feature-x"});
  EXPECT_EQ(lane["lane_outcome"], "in lane");
  EXPECT_EQ(lane_verdicts["x-4"], "yes");
  EXPECT_EQ(lane_verdicts["x-1"],
            "baseline; lane \"feature-x\" serves the call");
  auto [none, none_verdicts] = explain({"--version=v3"});
  EXPECT_THAT(none["outcome"].get<std::string>(),
              HasSubstr("no instance of vlb.explain.svc matches version "
                        "\"v3\""));

  const CommandResult table =
      Vlbctl({"explain", service, "--version=v1", "--header=x-beta=1"});
  ASSERT_EQ(table.exit_code, 0) << table.stderr_text;
  for (const char* text :
       {"RULE      beta", "REQUEST   \"v2\" (from route rule)",
        "OUTCOME   picked", "WHY NOT"}) {
    EXPECT_THAT(table.stdout_text, HasSubstr(text));
  }
}

// The public API the tool is built on, called in-process.
TEST_F(VlbctlTest, TheAdminApiRoundTrips) {
  EtcdOptions etcd;
  etcd.endpoints = {etcd_->endpoint()};
  const std::string service = "vlb.test.api";
  absl::StatusOr<int64_t> created =
      SetRouteDocument(etcd, service, kPinned, kDefaultRoutesRoot, 0);
  ASSERT_TRUE(created.ok()) << created.status();
  absl::StatusOr<StoredRouteDocument> got = GetRouteDocument(etcd, service);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->key, Key(service));
  EXPECT_EQ(got->text, kPinned);
  EXPECT_EQ(got->mod_revision, *created);
  const absl::StatusOr<int64_t> lost =
      SetRouteDocument(etcd, service, kExample, kDefaultRoutesRoot, 0);
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kFailedPrecondition);
  const absl::StatusOr<int64_t> invalid =
      SetRouteDocument(etcd, service, kInvalid);
  EXPECT_EQ(invalid.status(), ValidateRouteDocument(kInvalid));
  ASSERT_TRUE(DeleteRouteDocument(etcd, service).ok());
  EXPECT_EQ(GetRouteDocument(etcd, service).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(DeleteRouteDocument(etcd, service).status().code(),
            absl::StatusCode::kNotFound);
}

// A seed-format record without a lease, as another writer might put it.
std::string RawRecord(const std::string& service, const std::string& id,
                      const std::string& version, const std::string& address) {
  ServiceInstance instance;
  instance.name = ServiceShortName(service);
  instance.path = ServicePath(service);
  instance.id = id;
  instance.version = version;
  instance.address = address;
  return EncodeServiceRecord(instance);
}

TEST_F(VlbctlTest, ListShowsOneServiceAndEveryService) {
  const std::string one = "vlb.list.one";
  const std::string two = "vlb.list.two";
  std::unique_ptr<ChildProcess> registered =
      Register(one, "one-1", "127.0.0.1:9001", 3);
  ASSERT_NE(registered, nullptr);
  ASSERT_TRUE(etcd_
                  ->Etcdctl({"put", InstanceKey(two, "two-1"),
                             RawRecord(two, "two-1", "v2", "127.0.0.1:9002")})
                  .ok());
  ASSERT_TRUE(etcd_->Etcdctl({"put", InstanceKey(two, "bad"), "{}"}).ok());
  const std::optional<EtcdValue> stored = ReadEtcd(InstanceKey(one, "one-1"));
  ASSERT_TRUE(stored.has_value());

  const CommandResult table = Vlbctl({"list", one});
  ASSERT_EQ(table.exit_code, 0) << table.stderr_text;
  EXPECT_THAT(table.stdout_text,
              HasSubstr("SERVICE       ID     VERSION  LANE  ADDRESS"));
  EXPECT_THAT(table.stdout_text, HasSubstr("DRAINED  TTL  CREATED  MODIFIED"));
  EXPECT_THAT(table.stdout_text,
              HasSubstr("vlb.list.one  one-1  v1       -     127.0.0.1:9001  "
                        "3       no"));
  EXPECT_THAT(table.stdout_text, Not(HasSubstr("two-1")));

  const CommandResult listed = Vlbctl({"list", one, "--output=json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.stderr_text;
  const json out = json::parse(listed.stdout_text);
  ASSERT_EQ(out["services"].size(), 1u);
  const json& service = out["services"][0];
  EXPECT_EQ(service["service"], one);
  ASSERT_EQ(service["instances"].size(), 1u);
  const json& instance = service["instances"][0];
  EXPECT_EQ(instance["id"], "one-1");
  EXPECT_EQ(instance["key"], InstanceKey(one, "one-1"));
  EXPECT_EQ(instance["version"], "v1");
  EXPECT_EQ(instance["lane"], "");
  EXPECT_EQ(instance["address"], "127.0.0.1:9001");
  EXPECT_EQ(instance["weight"], 3);
  EXPECT_EQ(instance["drained"], false);
  EXPECT_EQ(instance["lease_id"], stored->lease);
  EXPECT_GT(instance["lease_ttl_left_seconds"].get<int64_t>(), 0);
  EXPECT_LE(instance["lease_ttl_left_seconds"].get<int64_t>(), 10);
  EXPECT_EQ(instance["create_revision"], stored->create_revision);
  EXPECT_EQ(instance["mod_revision"], stored->mod_revision);
  EXPECT_EQ(instance["age_revisions"],
            service["revision"].get<int64_t>() - stored->mod_revision);

  const CommandResult all = Vlbctl({"list", "--output=json"});
  ASSERT_EQ(all.exit_code, 0) << all.stderr_text;
  std::map<std::string, json> by_name;
  const json all_services = json::parse(all.stdout_text);
  for (const json& each : all_services["services"]) {
    by_name[each["service"].get<std::string>()] = each;
  }
  ASSERT_EQ(by_name.count(one), 1u) << all.stdout_text;
  ASSERT_EQ(by_name.count(two), 1u) << all.stdout_text;
  ASSERT_EQ(by_name[two]["instances"].size(), 1u);
  EXPECT_EQ(by_name[two]["instances"][0]["lease_id"], 0);
  EXPECT_TRUE(by_name[two]["instances"][0]["lease_ttl_left_seconds"].is_null());
  ASSERT_EQ(by_name[two]["skipped"].size(), 1u);
  EXPECT_EQ(by_name[two]["skipped"][0]["key"], InstanceKey(two, "bad"));

  const CommandResult all_table = Vlbctl({"list"});
  ASSERT_EQ(all_table.exit_code, 0) << all_table.stderr_text;
  EXPECT_THAT(all_table.stdout_text, HasSubstr("one-1"));
  EXPECT_THAT(all_table.stdout_text, HasSubstr("two-1"));
  EXPECT_THAT(
      all_table.stdout_text,
      HasSubstr(absl::StrCat("skipped ", InstanceKey(two, "bad"), ": ")));

  const CommandResult none = Vlbctl({"list", "vlb.list.none"});
  EXPECT_EQ(none.exit_code, 0) << none.stderr_text;
  EXPECT_THAT(none.stdout_text, Not(HasSubstr("vlb.list.none")));
}

// drain, weight and undrain rewrite the live record under its own lease,
// and the registrar keeps the operator's drain through a re-registration.
TEST_F(VlbctlTest, DrainWeightAndUndrainEditTheRecordKeepingItsLease) {
  const std::string service = "vlb.edit.svc";
  const std::string key = InstanceKey(service, "e-1");
  std::unique_ptr<ChildProcess> registered =
      Register(service, "e-1", "127.0.0.1:9011");
  ASSERT_NE(registered, nullptr);
  const std::optional<EtcdValue> before = ReadEtcd(key);
  ASSERT_TRUE(before.has_value());
  ASSERT_NE(before->lease, 0);

  const CommandResult drain = Vlbctl({"drain", service, "e-1"});
  ASSERT_EQ(drain.exit_code, 0) << drain.stderr_text;
  EXPECT_EQ(drain.stdout_text, "drained instance e-1 of vlb.edit.svc\n");
  std::optional<EtcdValue> after = ReadEtcd(key);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->lease, before->lease);
  EXPECT_GT(after->mod_revision, before->mod_revision);
  EXPECT_TRUE(RecordAt(key).drained);

  // The registrar sees the drain on its watch before the delete (events
  // come in revision order), so it registers again drained.
  ASSERT_TRUE(etcd_->Etcdctl({"del", key}).ok());
  ASSERT_TRUE(vlb::testing::WaitFor(
      [&] {
        const std::optional<EtcdValue> now = ReadEtcd(key);
        return now.has_value() && now->create_revision > after->mod_revision;
      },
      absl::Seconds(20)))
      << "the registrar did not register again";
  EXPECT_TRUE(RecordAt(key).drained) << "the operator's drain was lost";

  const CommandResult weight_table = Vlbctl({"weight", service, "e-1", "6"});
  ASSERT_EQ(weight_table.exit_code, 0) << weight_table.stderr_text;
  EXPECT_EQ(weight_table.stdout_text,
            "set the weight of instance e-1 of vlb.edit.svc to 6\n");
  const CommandResult weight =
      Vlbctl({"weight", service, "e-1", "7", "--output=json"});
  ASSERT_EQ(weight.exit_code, 0) << weight.stderr_text;
  EXPECT_EQ(json::parse(weight.stdout_text),
            json({{"service", service}, {"id", "e-1"}, {"weight", 7}}));
  const std::optional<EtcdValue> reweighted = ReadEtcd(key);
  ASSERT_TRUE(reweighted.has_value());
  EXPECT_NE(reweighted->lease, 0);
  EXPECT_EQ(RecordAt(key).weight, 7u);
  EXPECT_TRUE(RecordAt(key).drained);

  const CommandResult undrain = Vlbctl({"undrain", service, "e-1"});
  ASSERT_EQ(undrain.exit_code, 0) << undrain.stderr_text;
  EXPECT_EQ(ReadEtcd(key)->lease, reweighted->lease);
  const ServiceInstance undrained = RecordAt(key);
  EXPECT_FALSE(undrained.drained);
  EXPECT_EQ(undrained.weight, 7u);
  EXPECT_EQ(undrained.address, "127.0.0.1:9011");
}

TEST_F(VlbctlTest, EditsOfAMissingInstanceFailNamingIt) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"drain", "vlb.edit.none", "ghost"},
           {"undrain", "vlb.edit.none", "ghost"},
           {"weight", "vlb.edit.none", "ghost", "5"}}) {
    const CommandResult result = Vlbctl(args);
    EXPECT_EQ(result.exit_code, 1) << args[0];
    EXPECT_THAT(result.stderr_text,
                HasSubstr("no instance ghost of vlb.edit.none"))
        << args[0];
    EXPECT_EQ(result.stdout_text, "") << args[0];
  }
  EXPECT_FALSE(ReadEtcd(InstanceKey("vlb.edit.none", "ghost")).has_value());
}

// watch prints a line for a put, a drain and a delete, then exits at
// --max_events.
TEST_F(VlbctlTest, WatchPrintsOneLinePerChange) {
  const std::string service = "vlb.watch.svc";
  const std::string key = InstanceKey(service, "w-1");
  const std::string output = absl::StrCat(*dir_, "/watch.out");
  std::unique_ptr<ChildProcess> watch =
      StartWatch({service, "--max_events=3"}, output);
  ASSERT_NE(watch, nullptr);

  ASSERT_TRUE(etcd_
                  ->Etcdctl({"put", key,
                             RawRecord(service, "w-1", "v1", "127.0.0.1:9021")})
                  .ok());
  const CommandResult drain = Vlbctl({"drain", service, "w-1"});
  ASSERT_EQ(drain.exit_code, 0) << drain.stderr_text;
  ASSERT_TRUE(etcd_->Etcdctl({"del", key}).ok());

  absl::StatusOr<int> status = watch->Wait(absl::Seconds(20));
  ASSERT_TRUE(status.ok()) << status.status() << FileText(output);
  ASSERT_TRUE(WIFEXITED(*status)) << FileText(output);
  EXPECT_EQ(WEXITSTATUS(*status), 0) << FileText(output);
  const std::string lines = FileText(output);
  EXPECT_THAT(lines, HasSubstr(" added w-1 version=v1 lane=- "
                               "address=127.0.0.1:9021 weight=1 drained=no\n"));
  EXPECT_THAT(lines, HasSubstr(" changed w-1 drained=no->yes\n"));
  EXPECT_THAT(lines, HasSubstr(" removed w-1\n"));
}

TEST_F(VlbctlTest, WatchWritesJsonLinesAndStopsOnSigterm) {
  const std::string service = "vlb.watch.json";
  const std::string output = absl::StrCat(*dir_, "/watch-json.out");
  std::unique_ptr<ChildProcess> watch =
      StartWatch({service, "--output=json"}, output);
  ASSERT_NE(watch, nullptr);
  ASSERT_TRUE(etcd_
                  ->Etcdctl({"put", InstanceKey(service, "j-1"),
                             RawRecord(service, "j-1", "v3", "127.0.0.1:9031")})
                  .ok());
  ASSERT_TRUE(vlb::testing::WaitFor(
      [&] { return absl::StrContains(FileText(output), "\"added\""); },
      absl::Seconds(20)))
      << FileText(output);
  ASSERT_TRUE(watch->Kill(SIGTERM).ok());
  absl::StatusOr<int> status = watch->Wait(absl::Seconds(20));
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  const std::string text = FileText(output);
  const std::string line = text.substr(text.find("{\""));
  const json added = json::parse(line.substr(0, line.find('\n')));
  EXPECT_EQ(added["event"], "added");
  EXPECT_EQ(added["service"], service);
  EXPECT_EQ(added["id"], "j-1");
  EXPECT_EQ(added["instance"]["version"], "v3");
  EXPECT_EQ(added["instance"]["address"], "127.0.0.1:9031");
  EXPECT_GT(added["revision"].get<int64_t>(), 0);
}

}  // namespace
}  // namespace vlb
