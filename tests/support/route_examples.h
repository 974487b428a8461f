// The route document of the release-control issue and the README, shared
// by the tests of its parser and of the compiled rule table.
#ifndef VLB_TESTS_SUPPORT_ROUTE_EXAMPLES_H_
#define VLB_TESTS_SUPPORT_ROUTE_EXAMPLES_H_

namespace vlb::testing {

inline constexpr const char* kExampleRouteDocument = R"({
  "defaultVersion": "v1",
  "fallback": ["v1", "*"],
  "rules": [
    {"name": "gateway-v2-needs-app-v3",
     "when": {"callerService": "hwholiday.srv.gateway", "callerVersion": "^2"},
     "version": "v3"},
    {"name": "beta-users", "when": {"header": {"x-beta": "1"}},
     "version": "^2.0.0-0"},
    {"name": "canary",
     "when": {"version": "v1"},
     "split": [{"version": "v1", "weight": 95},
               {"version": "1.1.0-canary.1", "weight": 5}],
     "stickyHeader": "x-user-id"}
  ]
})";

}  // namespace vlb::testing

#endif  // VLB_TESTS_SUPPORT_ROUTE_EXAMPLES_H_
