// Carries a registry record with each address the resolver hands to gRPC,
// and the versions of every live record naming the address.
// A ServerAddress attribute (not a channel arg), so that records differing
// only in version, weight or drain still share one subchannel per address.
// The pick engine reads the record's weight and `drained` from it.
#ifndef VLB_SRC_GRPC_ADAPTER_INSTANCE_ATTRIBUTE_H_
#define VLB_SRC_GRPC_ADAPTER_INSTANCE_ATTRIBUTE_H_

#include <memory>
#include <string>
#include <vector>

#include "grpc_adapter/core.h"
#include "vlb/service_instance.h"

namespace vlb::grpc_adapter {

class InstanceAttribute : public grpc_core::ServerAddress::AttributeInterface {
 public:
  // Attributes are keyed by pointer identity.
  static const char* const kKey;

  InstanceAttribute(std::shared_ptr<const ServiceInstance> instance,
                    std::vector<std::string> versions)
      : instance_(std::move(instance)), versions_(std::move(versions)) {}

  // The newest record naming the address.
  const ServiceInstance& instance() const { return *instance_; }
  // Distinct, newest first; see discovery/address_book.h.
  const std::vector<std::string>& versions() const { return versions_; }

  // The record of `address`, or nullptr when it has none (e.g. an address
  // from another resolver).
  static const InstanceAttribute* Of(const grpc_core::ServerAddress& address);

  std::unique_ptr<AttributeInterface> Copy() const override;
  int Cmp(const AttributeInterface* other) const override;
  std::string ToString() const override;

 private:
  std::shared_ptr<const ServiceInstance> instance_;  // immutable, shared
  std::vector<std::string> versions_;
};

}  // namespace vlb::grpc_adapter

#endif  // VLB_SRC_GRPC_ADAPTER_INSTANCE_ATTRIBUTE_H_
