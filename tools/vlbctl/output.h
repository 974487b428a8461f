// vlbctl's output: --output=table (aligned columns for people) or
// --output=json (one JSON document on stdout, for scripts), and the
// messages of failed and misused commands on stderr.
//
// Thread-compatible; vlbctl prints from its main thread only.
#ifndef VLB_TOOLS_VLBCTL_OUTPUT_H_
#define VLB_TOOLS_VLBCTL_OUTPUT_H_

#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "vlbctl/command.h"

namespace vlb::vlbctl {

// absl's hooks for the type of --output: "table" or "json".
bool AbslParseFlag(absl::string_view text, OutputFormat* format,
                   std::string* error);
std::string AbslUnparseFlag(OutputFormat format);

// `rows` under `header`, each column as wide as its widest cell plus two
// spaces (the last one unpadded), one line per row.
std::string Table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows);

// Writes `text` to stdout as it is.
void PrintOut(absl::string_view text);

// Writes `document`, indented, and a newline to stdout.
void PrintJson(const nlohmann::json& document);

// Prints "vlbctl: <what>: <status message>" on stderr; returns
// kExitFailure, for `return Fail(...)`.
int Fail(absl::string_view what, const absl::Status& status);

// Prints "<command>: error: <message>" and a pointer to --help on stderr;
// returns kExitUsage. `command` is e.g. "vlbctl routes".
int UsageError(absl::string_view command, absl::string_view message);

}  // namespace vlb::vlbctl

ABSL_DECLARE_FLAG(vlb::vlbctl::OutputFormat, output);

#endif  // VLB_TOOLS_VLBCTL_OUTPUT_H_
