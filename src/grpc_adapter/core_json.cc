#include "grpc_adapter/core_json.h"

#include <cstdint>
#include <string>

#include "absl/strings/numbers.h"
#include "nlohmann/json.hpp"

namespace vlb::grpc_adapter {
namespace {

// gRPC only stores number text its parser accepted, so one of the two
// conversions succeeds; 0 is a safe answer should neither.
nlohmann::json NumberFrom(const std::string& text) {
  int64_t integer = 0;
  if (absl::SimpleAtoi(text, &integer)) return integer;
  uint64_t big = 0;
  if (absl::SimpleAtoi(text, &big)) return big;
  double real = 0;
  if (absl::SimpleAtod(text, &real)) return real;
  return 0;
}

}  // namespace

nlohmann::json ToNlohmannJson(const grpc_core::Json& json) {
  using Type = grpc_core::Json::Type;
  switch (json.type()) {
    case Type::JSON_NULL:
      return nullptr;
    case Type::JSON_TRUE:
      return true;
    case Type::JSON_FALSE:
      return false;
    case Type::NUMBER:
      return NumberFrom(json.string_value());
    case Type::STRING:
      return json.string_value();
    case Type::OBJECT: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& [key, value] : json.object_value()) {
        object[key] = ToNlohmannJson(value);
      }
      return object;
    }
    case Type::ARRAY: {
      nlohmann::json array = nlohmann::json::array();
      for (const grpc_core::Json& value : json.array_value()) {
        array.push_back(ToNlohmannJson(value));
      }
      return array;
    }
  }
  return nullptr;
}

}  // namespace vlb::grpc_adapter
