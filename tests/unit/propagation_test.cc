// vlb::PropagateRoutingHeaders on hand-made contexts: what it copies from a
// received call, and the names it refuses before gRPC would abort on them.
#include "vlb/propagation.h"

#include <map>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/test/client_context_test_peer.h"
#include "grpcpp/test/server_context_test_spouse.h"
#include "gtest/gtest.h"
#include "vlb/policy_names.h"

namespace vlb {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

std::multimap<std::string, std::string> Sent(grpc::ClientContext* context) {
  return grpc::testing::ClientContextTestPeer(context).GetSendInitialMetadata();
}

// A server context that "received" some metadata; the spouse owns the
// strings the context points to, so it lives as long as the fixture.
class PropagationTest : public ::testing::Test {
 protected:
  void Receive(const std::string& key, const std::string& value) {
    spouse_.AddClientMetadata(key, value);
  }

  grpc::ServerContext server_;
  grpc::testing::ServerContextTestSpouse spouse_{&server_};
  grpc::ClientContext client_;
};

TEST_F(PropagationTest, CopiesTheLaneByDefaultAndNothingElse) {
  Receive("x-lane", "feature-x");
  Receive("x-version", "v2");
  Receive("authorization", "Bearer secret");
  ASSERT_TRUE(PropagateRoutingHeaders(server_, &client_).ok());
  EXPECT_THAT(Sent(&client_),
              ElementsAre(Pair(kDefaultLaneHeader, "feature-x")));
}

TEST_F(PropagationTest, CopiesEveryValueOfEachNamedEntryInOrder) {
  Receive("x-lane", "feature-x");
  Receive("x-version", "^2");
  Receive("x-version", "v3");
  ASSERT_TRUE(PropagateRoutingHeaders(
                  server_, &client_,
                  RoutingHeaders{{kDefaultLaneHeader, kDefaultVersionHeader}})
                  .ok());
  EXPECT_THAT(Sent(&client_),
              ElementsAre(Pair("x-lane", "feature-x"), Pair("x-version", "^2"),
                          Pair("x-version", "v3")));
}

TEST_F(PropagationTest, SkipsNamesTheCallDidNotReceive) {
  Receive("x-version", "v2");
  ASSERT_TRUE(PropagateRoutingHeaders(server_, &client_).ok());
  EXPECT_THAT(Sent(&client_), IsEmpty());

  grpc::ServerContext nothing_received;
  grpc::ClientContext client;
  ASSERT_TRUE(PropagateRoutingHeaders(nothing_received, &client,
                                      RoutingHeaders{{"x-lane", "x-version"}})
                  .ok());
  EXPECT_THAT(Sent(&client), IsEmpty());
}

TEST_F(PropagationTest, MatchesConfiguredNamesCaseInsensitivelyAndOnce) {
  Receive("x-lane", "feature-x");
  ASSERT_TRUE(PropagateRoutingHeaders(server_, &client_,
                                      RoutingHeaders{{"X-Lane", "x-lane"}})
                  .ok());
  EXPECT_THAT(Sent(&client_), ElementsAre(Pair("x-lane", "feature-x")));
}

TEST_F(PropagationTest, KeepsAnEmptyValue) {
  Receive("x-lane", "");
  ASSERT_TRUE(PropagateRoutingHeaders(server_, &client_).ok());
  EXPECT_THAT(Sent(&client_), ElementsAre(Pair("x-lane", "")));
}

// A non-gRPC peer can send bytes gRPC would abort on when the downstream
// call starts; those values are dropped, the others still copied.
TEST_F(PropagationTest, DropsValuesGrpcCouldNotSend) {
  Receive("x-lane", std::string("feature\x01x", 9));
  Receive("x-lane", "caf\xc3\xa9");
  Receive("x-lane", "line\nbreak");
  Receive("x-lane", "feature-x");
  ASSERT_TRUE(PropagateRoutingHeaders(server_, &client_).ok());
  EXPECT_THAT(Sent(&client_), ElementsAre(Pair("x-lane", "feature-x")));
}

TEST_F(PropagationTest, RefusesNamesThatCannotBeSentAndAddsNothing) {
  Receive("x-lane", "feature-x");
  for (const char* bad :
       {"", "x lane", "x:lane", ":path", "grpc-timeout", "te", "content-type",
        "x-trace-bin", "X-Trace-BIN", "caf\xc3\xa9"}) {
    SCOPED_TRACE(bad);
    grpc::ClientContext client;
    absl::Status status = PropagateRoutingHeaders(
        server_, &client, RoutingHeaders{{"x-lane", bad}});
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(),
                HasSubstr("vlb::PropagateRoutingHeaders: RoutingHeaders."
                          "names[1]: "));
    EXPECT_THAT(Sent(&client), IsEmpty());
  }
}

TEST_F(PropagationTest, SaysWhyABinaryNameIsRefused) {
  absl::Status status = PropagateRoutingHeaders(
      server_, &client_, RoutingHeaders{{"x-trace-bin"}});
  EXPECT_EQ(status.message(),
            "vlb::PropagateRoutingHeaders: RoutingHeaders.names[0]: "
            "\"x-trace-bin\" names binary metadata (-bin suffix); routing "
            "headers are text");
}

TEST_F(PropagationTest, NoNamesCopyNothing) {
  Receive("x-lane", "feature-x");
  ASSERT_TRUE(
      PropagateRoutingHeaders(server_, &client_, RoutingHeaders{{}}).ok());
  EXPECT_THAT(Sent(&client_), IsEmpty());
}

// The callback API's context is a ServerContextBase too (checked by the
// compiler; lane_chain_test runs it for real).
TEST(PropagationApiTest, TakesACallbackServerContext) {
  grpc::CallbackServerContext server;
  grpc::ClientContext client;
  EXPECT_TRUE(PropagateRoutingHeaders(server, &client).ok());
  EXPECT_THAT(Sent(&client), IsEmpty());
}

}  // namespace
}  // namespace vlb
