// Uses the installed vlb through its public headers only.
#include <iostream>
#include <string>
#include <vector>

#include "grpcpp/client_context.h"
#include "grpcpp/server_context.h"
#include "vlb/propagation.h"
#include "vlb/registrar.h"

namespace {

bool EndpointListParses() {
  const std::vector<std::string> got =
      vlb::ParseEndpointList("http://10.0.0.1:2379, etcd-2:2379");
  const std::vector<std::string> want = {"10.0.0.1:2379", "etcd-2:2379"};
  if (got == want) return true;
  std::cerr << "ParseEndpointList returned " << got.size() << " entries:";
  for (const std::string& e : got) std::cerr << " [" << e << "]";
  std::cerr << "\n";
  return false;
}

// vlb/propagation.h compiles against the installed gRPC headers and links.
bool PropagationRefusesABinaryName() {
  grpc::ServerContext server;
  grpc::ClientContext client;
  const absl::Status status = vlb::PropagateRoutingHeaders(
      server, &client, vlb::RoutingHeaders{{"x-trace-bin"}});
  if (status.code() == absl::StatusCode::kInvalidArgument) return true;
  std::cerr << "PropagateRoutingHeaders(\"x-trace-bin\") returned " << status
            << "\n";
  return false;
}

}  // namespace

int main() {
  if (!EndpointListParses() || !PropagationRefusesABinaryName()) return 1;
  std::cout << "vlb package consumer: ok\n";
  return 0;
}
