#include "etcd_process.h"

#include <sys/stat.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "wait_for.h"

namespace vlb::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::unique_ptr<EtcdProcess> StartEtcd() {
  absl::StatusOr<std::unique_ptr<EtcdProcess>> etcd = EtcdProcess::Start();
  EXPECT_TRUE(etcd.ok()) << etcd.status();
  return etcd.ok() ? *std::move(etcd) : nullptr;
}

// `etcdctl get --print-value-only` of one key; "" when absent.
std::string Get(const EtcdProcess& etcd, const std::string& key) {
  absl::StatusOr<std::string> out =
      etcd.Etcdctl({"get", key, "--print-value-only"});
  EXPECT_TRUE(out.ok()) << out.status() << "\n" << etcd.LogTail();
  return out.ok() ? *out : "<error>";
}

TEST(EtcdProcessTest, StartsAndServesPutGet) {
  std::unique_ptr<EtcdProcess> etcd = StartEtcd();
  ASSERT_NE(etcd, nullptr);
  EXPECT_TRUE(etcd->running());
  EXPECT_THAT(etcd->endpoint(), StartsWith("127.0.0.1:"));
  EXPECT_EQ(etcd->client_url(), "http://" + etcd->endpoint());
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(
      std::string(absl::StripPrefix(etcd->endpoint(), "127.0.0.1:")), &port));
  EXPECT_EQ(port, etcd->client_port());

  absl::StatusOr<std::string> put = etcd->Etcdctl({"put", "/a/b", "hello"});
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(*put, "OK\n");
  EXPECT_EQ(Get(*etcd, "/a/b"), "hello\n");
  EXPECT_EQ(Get(*etcd, "/missing"), "");

  // A failing command reports etcdctl's stderr.
  absl::StatusOr<std::string> bad = etcd->Etcdctl({"no-such-command"});
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("no-such-command"));
}

TEST(EtcdProcessTest, RestartKeepsDataAndPort) {
  std::unique_ptr<EtcdProcess> etcd = StartEtcd();
  ASSERT_NE(etcd, nullptr);
  const std::string endpoint = etcd->endpoint();
  ASSERT_TRUE(etcd->Etcdctl({"put", "k", "v1"}).ok());

  ASSERT_TRUE(etcd->Restart().ok()) << etcd->LogTail();
  EXPECT_EQ(etcd->endpoint(), endpoint);
  EXPECT_EQ(Get(*etcd, "k"), "v1\n");

  // Also after a crash.
  ASSERT_TRUE(etcd->Etcdctl({"put", "k", "v2"}).ok());
  etcd->Kill();
  EXPECT_FALSE(etcd->running());
  EXPECT_FALSE(etcd->Etcdctl({"get", "k", "--dial-timeout=300ms",
                              "--command-timeout=300ms"},
                             absl::Seconds(5))
                   .ok());
  ASSERT_TRUE(etcd->Restart().ok()) << etcd->LogTail();
  EXPECT_EQ(Get(*etcd, "k"), "v2\n");
}

TEST(EtcdProcessTest, WipeEmptiesOnSamePort) {
  std::unique_ptr<EtcdProcess> etcd = StartEtcd();
  ASSERT_NE(etcd, nullptr);
  const std::string endpoint = etcd->endpoint();
  ASSERT_TRUE(etcd->Etcdctl({"put", "/svc/x", "1"}).ok());
  ASSERT_TRUE(etcd->Etcdctl({"put", "/svc/y", "2"}).ok());

  ASSERT_TRUE(etcd->Wipe().ok()) << etcd->LogTail();
  EXPECT_TRUE(etcd->running());
  EXPECT_EQ(etcd->endpoint(), endpoint);
  EXPECT_EQ(Get(*etcd, "/svc/x"), "");
  // Nothing at all is left, and the revision starts over: that is how
  // clients can tell a wiped etcd from one that merely restarted.
  absl::StatusOr<std::string> fields =
      etcd->Etcdctl({"get", "", "--prefix", "--write-out=fields"});
  ASSERT_TRUE(fields.ok()) << fields.status();
  EXPECT_THAT(*fields, HasSubstr("\"Count\" : 0\n"));
  EXPECT_THAT(*fields, HasSubstr("\"Revision\" : 1\n"));

  // And it works as before.
  ASSERT_TRUE(etcd->Etcdctl({"put", "/svc/x", "3"}).ok());
  EXPECT_EQ(Get(*etcd, "/svc/x"), "3\n");
}

TEST(EtcdProcessTest, TwoServersDoNotCollide) {
  std::unique_ptr<EtcdProcess> first = StartEtcd();
  std::unique_ptr<EtcdProcess> second = StartEtcd();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_NE(first->endpoint(), second->endpoint());
  EXPECT_NE(first->data_dir(), second->data_dir());

  ASSERT_TRUE(first->Etcdctl({"put", "k", "first"}).ok());
  ASSERT_TRUE(second->Etcdctl({"put", "k", "second"}).ok());
  EXPECT_EQ(Get(*first, "k"), "first\n");
  EXPECT_EQ(Get(*second, "k"), "second\n");

  // Stopping one leaves the other serving.
  ASSERT_TRUE(first->Stop().ok());
  EXPECT_EQ(Get(*second, "k"), "second\n");
}

TEST(EtcdProcessTest, PauseMakesRequestsTimeOutUntilResume) {
  std::unique_ptr<EtcdProcess> etcd = StartEtcd();
  ASSERT_NE(etcd, nullptr);
  ASSERT_TRUE(etcd->Etcdctl({"put", "k", "v"}).ok());
  ASSERT_TRUE(etcd->Pause().ok());
  EXPECT_FALSE(
      etcd->Etcdctl({"get", "k", "--command-timeout=300ms"}, absl::Seconds(5))
          .ok());
  ASSERT_TRUE(etcd->Resume().ok());
  EXPECT_TRUE(WaitFor(
      [&] {
        return etcd->Etcdctl({"get", "k"}, absl::Seconds(5)).ok();
      },
      absl::Seconds(10)));
  EXPECT_EQ(Get(*etcd, "k"), "v\n");
}

TEST(EtcdProcessTest, DestructorRemovesTempDir) {
  std::string data_dir;
  {
    std::unique_ptr<EtcdProcess> etcd = StartEtcd();
    ASSERT_NE(etcd, nullptr);
    data_dir = etcd->data_dir();
    struct stat st;
    ASSERT_EQ(stat(data_dir.c_str(), &st), 0);
  }
  struct stat st;
  EXPECT_NE(stat(data_dir.c_str(), &st), 0);
}

TEST(EtcdProcessTest, MissingBinaryFailsClearly) {
  EtcdProcess::Options options;
  options.etcd_binary = "vlb-no-such-etcd";
  absl::StatusOr<std::unique_ptr<EtcdProcess>> etcd =
      EtcdProcess::Start(options);
  EXPECT_EQ(etcd.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(etcd.status().message(), HasSubstr("vlb-no-such-etcd"));
}

TEST(EtcdProcessTest, ExtraFlagsArePassed) {
  EtcdProcess::Options options;
  options.extra_flags = {"--auto-compaction-retention=1",
                         "--no-such-etcd-flag"};
  // An unknown flag makes etcd exit at once: the start fails fast with the
  // log attached rather than waiting out the timeout.
  absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<EtcdProcess>> etcd =
      EtcdProcess::Start(options);
  EXPECT_FALSE(etcd.ok());
  EXPECT_THAT(etcd.status().message(), HasSubstr("no-such-etcd-flag"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

}  // namespace
}  // namespace vlb::testing
