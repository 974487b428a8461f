// Version routing must not depend on how a call is made: sync, async
// (CompletionQueue) and callback unary calls, server streaming and
// bidirectional streaming all go through the same resolver and policy.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "echo.grpc.pb.h"
#include "echo_service.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "integration_env.h"
#include "vlb/grpc.h"
#include "vlb/registrar.h"
#include "wait_for.h"

namespace vlb {
namespace {

using ::vlb::testing::EtcdGrpcTest;
using ::vlb::testing::ServedEcho;
using ::vlb::testing::WaitFor;
using vlbtest::EchoReply;
using vlbtest::EchoRequest;

constexpr char kService[] = "vlb.test.echo";

// One in-process server registered in etcd.
struct Instance {
  ServedEcho echo;
  std::unique_ptr<Registrar> registrar;
};

class CallStylesTest : public EtcdGrpcTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(EtcdGrpcTest::SetUp());
    AddInstance("echo-v1", "v1");
    AddInstance("echo-v2", "v2");
    channel_ = ChannelTo(kService);
    ASSERT_NE(channel_, nullptr);
    stub_ = vlbtest::Echo::NewStub(channel_);
    // Both instances connected before the checks.
    for (const char* version : {"v1", "v2"}) {
      ASSERT_TRUE(WaitFor(
          [&] {
            grpc::ClientContext context;
            if (!SetVersion(&context, version).ok()) return false;
            EchoRequest request;
            EchoReply reply;
            return stub_->Unary(&context, request, &reply).ok();
          },
          absl::Seconds(30)));
    }
  }

  void TearDown() override {
    for (auto& instance : instances_) {
      instance.registrar->Stop();
      instance.echo.server->Shutdown();
    }
  }

  void AddInstance(const std::string& id, const std::string& version) {
    Instance instance;
    instance.echo = ::vlb::testing::ServeEcho(id);
    ASSERT_NE(instance.echo.server, nullptr);
    auto registrar = Registrar::Create(::vlb::testing::Registration(
        {etcd_->endpoint()}, kService, id, version, instance.echo.address));
    ASSERT_TRUE(registrar.ok()) << registrar.status();
    instance.registrar = *std::move(registrar);
    ASSERT_TRUE(instance.registrar->Start().ok());
    instances_.push_back(std::move(instance));
  }

  std::vector<Instance> instances_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<vlbtest::Echo::Stub> stub_;
};

TEST_F(CallStylesTest, SyncUnary) {
  for (int i = 0; i < 10; ++i) {
    grpc::ClientContext context;
    ASSERT_TRUE(SetVersion(&context, "v2").ok());
    EchoRequest request;
    request.set_text("sync");
    EchoReply reply;
    ASSERT_TRUE(stub_->Unary(&context, request, &reply).ok());
    EXPECT_EQ(reply.instance(), "echo-v2");
  }
}

TEST_F(CallStylesTest, AsyncCompletionQueueUnary) {
  grpc::CompletionQueue queue;
  constexpr int kCalls = 10;
  struct Call {
    grpc::ClientContext context;
    EchoReply reply;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<EchoReply>> reader;
  };
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < kCalls; ++i) {
    auto call = std::make_unique<Call>();
    ASSERT_TRUE(SetVersion(&call->context, "v1").ok());
    EchoRequest request;
    request.set_text("async");
    call->reader = stub_->AsyncUnary(&call->context, request, &queue);
    call->reader->Finish(&call->reply, &call->status, call.get());
    calls.push_back(std::move(call));
  }
  for (int i = 0; i < kCalls; ++i) {
    void* tag = nullptr;
    bool ok = false;
    ASSERT_TRUE(queue.Next(&tag, &ok));
    ASSERT_TRUE(ok);
    auto* call = static_cast<Call*>(tag);
    ASSERT_TRUE(call->status.ok()) << call->status.error_message();
    EXPECT_EQ(call->reply.instance(), "echo-v1");
  }
  queue.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (queue.Next(&tag, &ok)) {
  }
}

TEST_F(CallStylesTest, CallbackUnary) {
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  constexpr int kCalls = 10;
  struct Call {
    grpc::ClientContext context;
    EchoRequest request;
    EchoReply reply;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < kCalls; ++i) {
    calls.push_back(std::make_unique<Call>());
    Call* call = calls.back().get();
    ASSERT_TRUE(SetVersion(&call->context, "v2").ok());
    stub_->async()->Unary(&call->context, &call->request, &call->reply,
                          [&, call](grpc::Status status) {
                            std::lock_guard<std::mutex> lock(mu);
                            call->status = status;
                            ++done;
                            cv.notify_all();
                          });
  }
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30),
                          [&] { return done == kCalls; }));
  for (const auto& call : calls) {
    ASSERT_TRUE(call->status.ok()) << call->status.error_message();
    EXPECT_EQ(call->reply.instance(), "echo-v2");
  }
}

TEST_F(CallStylesTest, ServerStreaming) {
  grpc::ClientContext context;
  ASSERT_TRUE(SetVersion(&context, "v1").ok());
  EchoRequest request;
  request.set_text("stream");
  request.set_count(5);
  auto reader = stub_->ServerStream(&context, request);
  EchoReply reply;
  std::vector<std::string> texts;
  while (reader->Read(&reply)) {
    EXPECT_EQ(reply.instance(), "echo-v1");
    texts.push_back(reply.text());
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(texts, (std::vector<std::string>{"stream-0", "stream-1", "stream-2",
                                             "stream-3", "stream-4"}));
}

TEST_F(CallStylesTest, BidiStreaming) {
  grpc::ClientContext context;
  ASSERT_TRUE(SetVersion(&context, "v2").ok());
  auto stream = stub_->Bidi(&context);
  for (int i = 0; i < 5; ++i) {
    EchoRequest request;
    request.set_text(absl::StrCat("ping-", i));
    ASSERT_TRUE(stream->Write(request));
    EchoReply reply;
    ASSERT_TRUE(stream->Read(&reply));
    EXPECT_EQ(reply.instance(), "echo-v2");
    EXPECT_EQ(reply.text(), absl::StrCat("ping-", i));
  }
  ASSERT_TRUE(stream->WritesDone());
  ASSERT_TRUE(stream->Finish().ok());
}

TEST_F(CallStylesTest, StreamsFailClearlyWithoutAMatch) {
  grpc::ClientContext context;
  ASSERT_TRUE(SetVersion(&context, "v9").ok());
  auto stream = stub_->Bidi(&context);
  EchoReply reply;
  EXPECT_FALSE(stream->Read(&reply));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(),
            "no instance of vlb.test.echo matches version \"v9\" "
            "(available: v1, v2)");
}

TEST_F(CallStylesTest, MalformedVersionRequestFailsAtOnce) {
  grpc::ClientContext context;
  ASSERT_TRUE(SetVersion(&context, "1..2").ok());
  // Even a wait_for_ready call: the request cannot become valid.
  context.set_wait_for_ready(true);
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  EchoRequest request;
  EchoReply reply;
  grpc::Status status = stub_->Unary(&context, request, &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL)
      << status.error_message();
  EXPECT_THAT(status.error_message(),
              ::testing::HasSubstr("invalid version request \"1..2\""));
}

}  // namespace
}  // namespace vlb
