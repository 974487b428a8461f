// FlagsHelp (command_line.h): absl 20220623 keeps its own help printer
// internal, and its public --help exits 1, so the programs print their own.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/command_line.h"

namespace vlb::programs {
namespace {

constexpr size_t kLineWidth = 80;
// Flag names longer than this get their help text on the next line.
constexpr size_t kMaxNameColumn = 24;

// Defined in this source tree (examples/, tools/, programs/, bench/...), as
// opposed to a library linked in. CMake passes the tree's path; absl's
// default FlagsUsageConfig::normalize_filename drops leading slashes, so
// both sides are compared without them.
bool IsProgramFlag(const absl::CommandLineFlag& flag) {
  absl::string_view root = VLB_PROGRAMS_SOURCE_ROOT;
  const std::string filename = flag.Filename();
  absl::string_view file = filename;
  while (absl::ConsumePrefix(&root, "/")) {
  }
  while (absl::ConsumePrefix(&file, "/")) {
  }
  return absl::StartsWith(file, root);
}

// The help text and the default, unless it says nothing: empty, or false
// for a switch (which is off unless given).
std::string Description(const absl::CommandLineFlag& flag) {
  std::string text = flag.Help();
  const std::string fallback = flag.DefaultValue();
  if (!fallback.empty() && !(flag.IsOfType<bool>() && fallback == "false")) {
    absl::StrAppend(&text, " (default: ", fallback, ")");
  }
  return text;
}

// "  --name   text", wrapped at kLineWidth with the text aligned at `column`.
std::string Entry(absl::string_view name, absl::string_view text,
                  size_t column) {
  std::string out = absl::StrCat("  --", name);
  if (out.size() + 2 > column) {
    out += '\n';
    out.append(column, ' ');
  } else {
    out.append(column - out.size(), ' ');
  }
  size_t line_length = column;
  bool line_empty = true;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (!line_empty && line_length + 1 + word.size() > kLineWidth) {
      out += '\n';
      out.append(column, ' ');
      line_length = column;
      line_empty = true;
    }
    if (!line_empty) {
      out += ' ';
      ++line_length;
    }
    absl::StrAppend(&out, word);
    line_length += word.size();
    line_empty = false;
  }
  out += '\n';
  return out;
}

// The flags' entries, their names aligned in one column, then --help's.
std::string Entries(const std::vector<const absl::CommandLineFlag*>& flags) {
  size_t column = std::strlen("  --help  ");
  for (const absl::CommandLineFlag* flag : flags) {
    column = std::max(column, flag->Name().size() + 6);  // "  --" and 2
  }
  column = std::min(column, kMaxNameColumn);
  std::string out;
  for (const absl::CommandLineFlag* flag : flags) {
    out += Entry(flag->Name(), Description(*flag), column);
  }
  out += Entry("help", "print this help and exit", column);
  return out;
}

std::string WithFlags(absl::string_view usage,
                      const std::vector<const absl::CommandLineFlag*>& flags) {
  std::string out(usage);
  if (!out.empty() && out.back() != '\n') out += '\n';
  out += "\nFlags:\n";
  out += Entries(flags);
  return out;
}

}  // namespace

std::string FlagsHelpFor(absl::string_view usage,
                         const std::vector<std::string>& flag_names) {
  std::vector<const absl::CommandLineFlag*> flags;
  for (const std::string& name : flag_names) {
    if (const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name)) {
      flags.push_back(flag);
    }
  }
  return WithFlags(usage, flags);
}

std::string FlagsHelp(bool include_library_flags) {
  std::vector<const absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (include_library_flags || IsProgramFlag(*flag)) flags.push_back(flag);
  }
  std::sort(flags.begin(), flags.end(),
            [](const auto* a, const auto* b) { return a->Name() < b->Name(); });
  return WithFlags(absl::ProgramUsageMessage(), flags);
}

}  // namespace vlb::programs
