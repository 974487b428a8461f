#include "grpc_adapter/instance_attribute.h"

#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vlb::grpc_adapter {

const char* const InstanceAttribute::kKey = "vlb_instance";

const InstanceAttribute* InstanceAttribute::Of(
    const grpc_core::ServerAddress& address) {
  return static_cast<const InstanceAttribute*>(address.GetAttribute(kKey));
}

std::unique_ptr<grpc_core::ServerAddress::AttributeInterface>
InstanceAttribute::Copy() const {
  return std::make_unique<InstanceAttribute>(instance_, versions_);
}

int InstanceAttribute::Cmp(const AttributeInterface* other) const {
  const auto* o = static_cast<const InstanceAttribute*>(other);
  const ServiceInstance& a = *instance_;
  const ServiceInstance& b = o->instance();
  const auto ta = std::tie(a.id, versions_, a.weight, a.drained, a.metadata);
  const auto tb = std::tie(b.id, o->versions_, b.weight, b.drained, b.metadata);
  if (ta < tb) return -1;
  if (tb < ta) return 1;
  return 0;
}

std::string InstanceAttribute::ToString() const {
  return absl::StrCat(
      "{id=", instance_->id, " versions=", absl::StrJoin(versions_, ","),
      " weight=", instance_->weight,
      instance_->lane.empty() ? "" : absl::StrCat(" lane=", instance_->lane),
      instance_->drained ? " drained" : "", "}");
}

}  // namespace vlb::grpc_adapter
