#include "grpc_adapter/instance_attribute.h"

#include <tuple>

#include "absl/strings/str_cat.h"

namespace vlb::grpc_adapter {

const char* const InstanceAttribute::kKey = "vlb_instance";

const ServiceInstance* InstanceAttribute::Of(
    const grpc_core::ServerAddress& address) {
  const auto* attribute =
      static_cast<const InstanceAttribute*>(address.GetAttribute(kKey));
  return attribute == nullptr ? nullptr : &attribute->instance();
}

std::unique_ptr<grpc_core::ServerAddress::AttributeInterface>
InstanceAttribute::Copy() const {
  return std::make_unique<InstanceAttribute>(instance_);
}

int InstanceAttribute::Cmp(const AttributeInterface* other) const {
  const ServiceInstance& a = *instance_;
  const ServiceInstance& b =
      static_cast<const InstanceAttribute*>(other)->instance();
  const auto ta = std::tie(a.id, a.version, a.weight, a.metadata);
  const auto tb = std::tie(b.id, b.version, b.weight, b.metadata);
  if (ta < tb) return -1;
  if (tb < ta) return 1;
  return 0;
}

std::string InstanceAttribute::ToString() const {
  return absl::StrCat("{id=", instance_->id, " version=", instance_->version,
                      " weight=", instance_->weight, "}");
}

}  // namespace vlb::grpc_adapter
