// Version strings and version requests for version-aware load balancing: a
// call asks for a version (a header value), instances advertise one, and
// VersionRequest decides which instances match.
//
// Parsing a request and matching it run on the pick path, so neither
// allocates nor locks: requests are parsed into fixed-size, trivially copyable
// objects and instance versions are parsed once, by the caller, when the
// instance list changes.
//
// Request grammar
// ---------------
// Versions follow semver 2.0 with relaxations: an optional leading `v` or
// `V`, then MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD]. Numbers are decimal,
// without leading zeros ("0" itself is fine), and fit in 64 bits. PRERELEASE
// and BUILD are dot-separated, non-empty identifiers of [0-9A-Za-z-]; numeric
// pre-release identifiers have no leading zeros. Missing MINOR/PATCH are 0 and
// BUILD is ignored when comparing, so `v1`, `1`, `v1.0` and `1.0.0+abc` are
// the same version. Precedence is semver 2.0's: 1.0.0-alpha < 1.0.0-alpha.1 <
// 1.0.0-alpha.beta < 1.0.0-beta < 1.0.0-beta.2 < 1.0.0-beta.11 < 1.0.0-rc.1 <
// 1.0.0.
//
// A request is one to 4 alternatives joined by `||`; an instance matches when
// it matches any alternative. An alternative is one to 4 terms separated by
// whitespace; an instance matches when it matches every term. Whitespace
// around the request, around `||` and after an operator is ignored. Terms:
//
//   1.2.3  v1  2.0.0-beta.1   exact: equal after padding with zeros (`v1`
//                             matches 1.0.0 but not 1.4.0); the pre-release
//                             must be equal too.
//   =1.2.3                    the same as the bare version.
//   >1.2  >=1.2  <2  <=2.1.0  comparison with the padded version: `>1.2` is
//                             >1.2.0 (1.2.1 matches) and `<=2` is <=2.0.0.
//   ^1.4                      npm caret, the version up to the next change of
//                             its first non-zero part: ^1.4 is >=1.4.0
//                             <2.0.0, ^0.4 is >=0.4.0 <0.5.0, ^0.0.3 is
//                             >=0.0.3 <0.0.4, ^0 is <1.0.0, ^0.0 is <0.1.0.
//   ~1.4.2  ~1.4  ~1          npm tilde: ~1.4.2 is >=1.4.2 <1.5.0, ~1.4 is
//                             >=1.4.0 <1.5.0, ~1 is >=1.0.0 <2.0.0.
//   1.x  1.X  1.*  1.4.x      wildcard: 1.x is >=1.0.0 <2.0.0, 1.4.x is
//                             >=1.4.0 <1.5.0. A wildcard part is only followed
//                             by wildcard parts (1.x.x), never by a number or
//                             a pre-release, and never follows an operator.
//   *  x  X                   any version. An alternative made only of these
//                             matches every instance, including pre-releases
//                             and non-semver versions.
//   blue  canary-2024         a label: any term that starts with a letter and
//                             is not a version (`v` + digit) or `x`/`X`. It
//                             runs to the next whitespace or `|`, must be the
//                             only term of its alternative, and matches an
//                             instance whose version string is byte-equal.
//
// A term that starts with a digit, with `v`/`V` + digit, or with an operator
// must be a valid version: `1..2`, `01.2` and `2024.01.15` are errors, not
// labels.
//
// Upper bounds made by `^`, `~` and wildcards exclude every pre-release of
// the bound (npm's `<2.0.0-0`). Pre-releases: an alternative other than `*`
// matches a pre-release instance only if one of its terms names a version with
// the same MAJOR.MINOR.PATCH and a pre-release (npm's rule), so `^1.0` does
// not pick 1.5.0-rc.1 but `>=1.5.0-rc.1 <2` does; an exact pre-release
// request matches that pre-release. Instance versions that are not semver only
// match labels and `*`.
//
// Numbers stop at M = 2^64-1, so the bump that makes an upper bound carries
// into the part above when the bumped part is M: ~1.M is >=1.M.0 <2.0.0 and
// ^0.0.M is >=0.0.M <0.1.0. No version lies between 1.M.x and 2.0.0, so this
// is exactly the range with the unrepresentable bound <1.(M+1).0. When the
// carry passes the major (^M, ~M.M, M.x) the range has no upper end, as no
// version is above M.M.M.
//
// Examples: `v2`, `^1.2 || ^2`, `>=1.2 <2 || 3.x`, `~2.1.0 || canary`.
#ifndef VLB_BALANCER_VERSION_H_
#define VLB_BALANCER_VERSION_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vlb::internal {

// A parsed version. `prerelease` points into the string given to ParseSemVer,
// which must outlive it.
struct SemVer {
  uint64_t major = 0;
  uint64_t minor = 0;
  uint64_t patch = 0;
  // Without the leading '-'; empty for a release.
  absl::string_view prerelease;
  // How many numeric parts were written (1 to 3): "v1" has 1, "1.4" has 2.
  // Comparison ignores it, as missing parts are 0.
  int parts = 0;
};

// Returns nullopt unless `text` is exactly a version of the grammar above
// (no surrounding whitespace). Does not allocate.
std::optional<SemVer> ParseSemVer(absl::string_view text);

// Returns <0, 0 or >0 as `a` has lower, equal or higher precedence than `b`
// under semver 2.0. `parts` is ignored.
int CompareSemVer(const SemVer& a, const SemVer& b);

// A parsed request, self-contained (it copies the request text) and
// trivially copyable, about 1.3 KB. Const methods are safe to call from any
// number of threads.
class VersionRequest {
 public:
  // Limits of the fixed-size representation; longer requests are errors.
  static constexpr size_t kMaxTextSize = 256;
  static constexpr int kMaxAlternatives = 4;
  static constexpr int kMaxTerms = 4;

  // For configuration: the error is InvalidArgument and names the problem
  // and where it is. Allocates only for the error message.
  static absl::StatusOr<VersionRequest> Parse(absl::string_view text);

  // For the pick path: never allocates. Returns false, leaving `*out` in an
  // unspecified state, if `text` is empty after trimming or invalid.
  static bool TryParse(absl::string_view text, VersionRequest* out);

  // Why a text is not a valid request, as TryParse found it: a problem code
  // (private to version.cc; 0 = none) and where, as an offset into the
  // trimmed text. Small and trivially copyable, so that a failed pick can
  // carry it and describing the failure needs no second parse.
  struct SyntaxError {
    uint8_t code = 0;
    uint16_t pos = 0;
  };
  // TryParse that also reports why it failed. Never allocates.
  static bool TryParse(absl::string_view text, VersionRequest* out,
                       SyntaxError* error);
  // What is wrong with `text` (as given to TryParse, which reported
  // `error`), without naming the request: e.g. `numbers cannot have leading
  // zeros at '0' (column 1)`. Parse's message is `invalid version request
  // "<text>": ` and this. Allocates.
  static std::string DescribeSyntaxError(absl::string_view text,
                                         SyntaxError error);

  // Whether an instance advertising `instance_version` matches.
  // `parsed_instance` must be ParseSemVer(instance_version), computed once
  // by the caller when the instance appeared. Never allocates.
  bool Matches(absl::string_view instance_version,
               const std::optional<SemVer>& parsed_instance) const;

  // True when the request names one version: a bare or `=` version or a
  // label, alone.
  bool IsExactVersion() const;
  // True when some alternative matches every instance (`*`).
  bool IsAny() const;
  // The request with surrounding whitespace trimmed; points into this
  // object, so it is valid while the object lives and is not modified.
  absl::string_view text() const {
    return absl::string_view(text_, text_size_);
  }

 private:
  enum class Op : uint8_t { kEq, kGt, kGe, kLt, kLe };

  // One comparison with a full version. The pre-release is text_[pre_offset,
  // pre_offset + pre_size), or, for kLowestPrerelease, the lowest possible
  // pre-release of the tuple (npm's `-0`), which upper bounds use to exclude
  // the tuple's pre-releases.
  struct Bound {
    static constexpr uint16_t kLowestPrerelease = 0xffff;
    uint64_t major;
    uint64_t minor;
    uint64_t patch;
    uint16_t pre_offset;
    uint16_t pre_size;
    Op op;
  };

  enum class Kind : uint8_t { kRange, kAny, kLabel };

  struct Alternative {
    Kind kind;
    // Written terms, for the kMaxTerms limit and IsExactVersion().
    uint8_t num_terms;
    uint8_t num_bounds;
    // Whether a term with a bare or `=` version was written.
    bool has_exact;
    // Kind::kLabel: the label is text_[label_offset, label_offset +
    // label_size).
    uint16_t label_offset;
    uint16_t label_size;
    // `^`, `~` and wildcards need two bounds each.
    Bound bounds[2 * kMaxTerms];
  };

  friend class VersionRequestParser;

  absl::string_view Prerelease(const Bound& b) const;
  int CompareToBound(const SemVer& v, const Bound& b) const;
  bool RangeMatches(const Alternative& alt, const SemVer& v) const;

  char text_[kMaxTextSize];
  uint16_t text_size_ = 0;
  uint8_t num_alternatives_ = 0;
  Alternative alternatives_[kMaxAlternatives];
};

}  // namespace vlb::internal

#endif  // VLB_BALANCER_VERSION_H_
