#include "vlbctl/output.h"

#include <algorithm>
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/command_line.h"
#include "common/print_line.h"

ABSL_FLAG(vlb::vlbctl::OutputFormat, output, vlb::vlbctl::OutputFormat::kTable,
          "table (aligned columns) or json (one JSON document on stdout)");

namespace vlb::vlbctl {

bool AbslParseFlag(absl::string_view text, OutputFormat* format,
                   std::string* error) {
  if (text == "table") {
    *format = OutputFormat::kTable;
  } else if (text == "json") {
    *format = OutputFormat::kJson;
  } else {
    *error = absl::StrCat("\"", text, "\" is neither table nor json");
    return false;
  }
  return true;
}

std::string AbslUnparseFlag(OutputFormat format) {
  return format == OutputFormat::kJson ? "json" : "table";
}

std::string Table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size());
  for (size_t i = 0; i < header.size(); ++i) widths[i] = header[i].size();
  for (const std::vector<std::string>& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  auto append_line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size() && i < widths.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size())
        out.append(widths[i] - cells[i].size() + 2, ' ');
    }
    out += '\n';
  };
  append_line(header);
  for (const std::vector<std::string>& row : rows) append_line(row);
  return out;
}

void PrintOut(absl::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void PrintJson(const nlohmann::json& document) {
  // Replace, not throw: a document read from etcd need not be UTF-8.
  PrintOut(absl::StrCat(
      document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace),
      "\n"));
}

int Fail(absl::string_view what, const absl::Status& status) {
  programs::PrintLine(stderr,
                      absl::StrCat("vlbctl: ", what, ": ", status.message()));
  return kExitFailure;
}

int UsageError(absl::string_view command, absl::string_view message) {
  return programs::UsageError(command, absl::InvalidArgumentError(message));
}

}  // namespace vlb::vlbctl
