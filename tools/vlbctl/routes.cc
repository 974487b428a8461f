#include "vlbctl/routes.h"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "vlb/route_admin.h"
#include "vlbctl/output.h"

ABSL_FLAG(std::string, routes_root, vlb::kDefaultRoutesRoot,
          "where route documents live in etcd (the clients' routes root)");
ABSL_FLAG(std::optional<int64_t>, if_revision, std::nullopt,
          "routes set only: write only if the document is still at this "
          "revision (what routes get printed); 0: only if there is none");

namespace vlb::vlbctl {
namespace {

using Json = nlohmann::json;

constexpr char kCommand[] = "vlbctl routes";

constexpr char kUsage[] =
    "Usage: vlbctl routes get SERVICE\n"
    "       vlbctl routes validate [FILE|-]\n"
    "       vlbctl routes set SERVICE [FILE|-] [--if-revision=N]\n"
    "       vlbctl routes delete SERVICE\n"
    "\n"
    "A service's route document: the rules every client of the service\n"
    "follows to choose the version of each call, kept in etcd at\n"
    "<--routes_root><SERVICE> (README \"Route documents\"). FILE - or no FILE\n"
    "reads the document from stdin.\n"
    "\n"
    "  get       prints the document's key, its revision (the value\n"
    "            --if-revision takes), whether clients accept it, and its "
    "text\n"
    "  validate  checks a document the way clients do; needs no etcd\n"
    "  set       validates, then writes; an invalid document is refused with\n"
    "            the error clients would log and nothing is written. With\n"
    "            --if-revision=N, writes only if the document is still at\n"
    "            revision N (0: only if there is none)\n"
    "  delete    deletes the document: clients go back to their local config\n"
    "\n"
    "Exit status: 0 done; 1 failed (no such document, invalid document,\n"
    "revision moved on, etcd unreachable: the message on stderr says which);\n"
    "2 bad command line.\n";

// `source` is a path, or "-" for stdin.
std::string SourceName(const std::string& source) {
  return source == "-" ? "stdin" : source;
}

absl::StatusOr<std::string> ReadAll(std::FILE* file, const std::string& name) {
  std::string text;
  char buffer[8192];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) {
    text.append(buffer, n);
  }
  if (std::ferror(file)) {
    return absl::UnavailableError(
        absl::StrCat("reading ", name, ": ", std::strerror(errno)));
  }
  return text;
}

absl::StatusOr<std::string> ReadSource(const std::string& source) {
  if (source == "-") return ReadAll(stdin, "stdin");
  std::FILE* file = std::fopen(source.c_str(), "rb");
  if (file == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("reading ", source, ": ", std::strerror(errno)));
  }
  absl::StatusOr<std::string> text = ReadAll(file, source);
  std::fclose(file);
  return text;
}

// The operand at `index`, or "-" (stdin) when there are fewer.
std::string SourceOperand(const Invocation& invocation, size_t index) {
  return index < invocation.operands.size() ? invocation.operands[index] : "-";
}

std::string Root() { return absl::GetFlag(FLAGS_routes_root); }

// How many rules a valid document has (it parsed, so it is JSON).
size_t RuleCount(const std::string& text) {
  const Json document = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto rules = document.find("rules");
  return rules == document.end() ? 0 : rules->size();
}

int Get(const Invocation& invocation) {
  const std::string& service = invocation.operands[1];
  absl::StatusOr<StoredRouteDocument> stored =
      GetRouteDocument(invocation.etcd, service, Root());
  if (!stored.ok()) {
    return Fail(absl::StrCat("routes get ", service), stored.status());
  }
  const absl::Status valid = ValidateRouteDocument(stored->text);
  if (invocation.output == OutputFormat::kJson) {
    Json out = {{"service", service},
                {"key", stored->key},
                {"revision", stored->mod_revision},
                {"valid", valid.ok()},
                {"text", stored->text}};
    if (!valid.ok()) out["error"] = std::string(valid.message());
    const Json parsed = Json::parse(stored->text, nullptr, false);
    if (!parsed.is_discarded()) out["document"] = parsed;
    PrintJson(out);
    return kExitOk;
  }
  std::string out = Table({"KEY", "REVISION", "VALID"},
                          {{stored->key, absl::StrCat(stored->mod_revision),
                            valid.ok() ? "yes" : "no"}});
  if (!valid.ok()) absl::StrAppend(&out, "error: ", valid.message(), "\n");
  absl::StrAppend(&out, "\n", stored->text);
  if (!stored->text.empty() && stored->text.back() != '\n') out += '\n';
  PrintOut(out);
  return kExitOk;
}

int Validate(const Invocation& invocation) {
  const std::string source = SourceOperand(invocation, 1);
  absl::StatusOr<std::string> text = ReadSource(source);
  if (!text.ok()) return Fail("routes validate", text.status());
  const absl::Status valid = ValidateRouteDocument(*text);
  const bool json = invocation.output == OutputFormat::kJson;
  if (!valid.ok()) {
    if (json) {
      PrintJson({{"source", SourceName(source)},
                 {"valid", false},
                 {"error", std::string(valid.message())}});
    }
    return Fail(absl::StrCat("routes validate ", SourceName(source)), valid);
  }
  const size_t rules = RuleCount(*text);
  if (json) {
    PrintJson(
        {{"source", SourceName(source)}, {"valid", true}, {"rules", rules}});
  } else {
    PrintOut(Table({"SOURCE", "VALID", "RULES"},
                   {{SourceName(source), "yes", absl::StrCat(rules)}}));
  }
  return kExitOk;
}

// The key's row, for set and delete.
void PrintWritten(const Invocation& invocation, const std::string& service,
                  int64_t revision, bool deleted) {
  const std::string key = absl::StrCat(Root(), service);
  if (invocation.output == OutputFormat::kJson) {
    PrintJson({{"service", service},
               {"key", key},
               {"revision", revision},
               {"deleted", deleted}});
    return;
  }
  PrintOut(Table({"KEY", deleted ? "DELETED AT REVISION" : "REVISION"},
                 {{key, absl::StrCat(revision)}}));
}

int Set(const Invocation& invocation) {
  const std::string& service = invocation.operands[1];
  const std::optional<int64_t> if_revision = absl::GetFlag(FLAGS_if_revision);
  if (if_revision.has_value() && *if_revision < 0) {
    return UsageError(kCommand, absl::StrCat("--if-revision: ", *if_revision,
                                             " is negative"));
  }
  const std::string source = SourceOperand(invocation, 2);
  absl::StatusOr<std::string> text = ReadSource(source);
  if (!text.ok()) return Fail("routes set", text.status());
  if (absl::Status valid = ValidateRouteDocument(*text); !valid.ok()) {
    return Fail(absl::StrCat("routes set ", service,
                             ": refused (nothing "
                             "written), ",
                             SourceName(source), " is invalid"),
                valid);
  }
  absl::StatusOr<int64_t> revision =
      SetRouteDocument(invocation.etcd, service, *text, Root(), if_revision);
  if (!revision.ok()) {
    return Fail(absl::StrCat("routes set ", service), revision.status());
  }
  PrintWritten(invocation, service, *revision, /*deleted=*/false);
  return kExitOk;
}

int Delete(const Invocation& invocation) {
  const std::string& service = invocation.operands[1];
  absl::StatusOr<int64_t> revision =
      DeleteRouteDocument(invocation.etcd, service, Root());
  if (!revision.ok()) {
    return Fail(absl::StrCat("routes delete ", service), revision.status());
  }
  PrintWritten(invocation, service, *revision, /*deleted=*/true);
  return kExitOk;
}

struct Subcommand {
  const char* name;
  const char* operands;  // for the usage error
  size_t min_operands;   // counting the subcommand's name
  size_t max_operands;
  int (*run)(const Invocation&);
};

constexpr Subcommand kSubcommands[] = {
    {"get", "SERVICE", 2, 2, Get},
    {"validate", "[FILE|-]", 1, 2, Validate},
    {"set", "SERVICE [FILE|-]", 2, 3, Set},
    {"delete", "SERVICE", 2, 2, Delete},
};

int Run(const Invocation& invocation) {
  if (invocation.operands.empty()) {
    return UsageError(kCommand, "what to do? get, set, validate or delete");
  }
  const std::string& name = invocation.operands[0];
  for (const Subcommand& sub : kSubcommands) {
    if (name != sub.name) continue;
    const size_t n = invocation.operands.size();
    if (n < sub.min_operands || n > sub.max_operands) {
      return UsageError(kCommand, absl::StrCat("usage: vlbctl routes ",
                                               sub.name, " ", sub.operands));
    }
    if (name != "set" && absl::GetFlag(FLAGS_if_revision).has_value()) {
      return UsageError(kCommand, "--if-revision is for routes set only");
    }
    return sub.run(invocation);
  }
  return UsageError(kCommand, absl::StrCat("unknown subcommand \"", name,
                                           "\"; use get, set, validate or "
                                           "delete"));
}

}  // namespace

Command RoutesCommand() {
  return {"routes",
          "get, set, validate or delete a service's route document",
          kUsage,
          {"routes_root", "if_revision"},
          Run};
}

}  // namespace vlb::vlbctl
