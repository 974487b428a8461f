#include "balancer/version.h"

#include <cstring>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace vlb::internal {
namespace {

constexpr uint64_t kMaxNumber = std::numeric_limits<uint64_t>::max();

// The parser reports a code and a position rather than a message so that
// TryParse can stay allocation-free; Parse turns them into text.
enum class ErrorCode : uint8_t {
  kNone,
  kEmpty,
  kTooLong,
  kExpectedNumber,
  kLeadingZero,
  kOverflow,
  kBadPrerelease,
  kBadBuild,
  kUnexpectedChar,
  kSingleBar,
  kWildcardAfterOperator,
  kNumberAfterWildcard,
  kSuffixAfterWildcard,
  kMissingVersion,
  kLabelNotAlone,
  kEmptyAlternative,
  kTooManyAlternatives,
  kTooManyTerms,
};

struct ParseError {
  ErrorCode code = ErrorCode::kNone;
  size_t pos = 0;
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsWildcard(char c) { return c == 'x' || c == 'X' || c == '*'; }
bool IsIdentifierChar(char c) { return absl::ascii_isalnum(c) || c == '-'; }
// Ends a term: whitespace, or the start of `||`.
bool IsDelimiter(char c) { return absl::ascii_isspace(c) || c == '|'; }

bool IsNumeric(absl::string_view id) {
  if (id.empty()) return false;
  for (char c : id) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

int CompareNumbers(uint64_t a, uint64_t b) { return a < b ? -1 : (a > b); }

// Numeric identifiers can exceed 64 bits, so they compare as digit strings.
int CompareIdentifiers(absl::string_view a, absl::string_view b) {
  bool a_numeric = IsNumeric(a);
  bool b_numeric = IsNumeric(b);
  if (a_numeric && b_numeric) {
    // ParseSemVer rejects leading zeros, but a SemVer may be built by hand.
    while (a.size() > 1 && a.front() == '0') a.remove_prefix(1);
    while (b.size() > 1 && b.front() == '0') b.remove_prefix(1);
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    return a.compare(b);
  }
  if (a_numeric != b_numeric) return a_numeric ? -1 : 1;
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0);
}

int ComparePrereleases(absl::string_view a, absl::string_view b) {
  if (a.empty() || b.empty()) {
    // A release ranks above its pre-releases.
    return a.empty() == b.empty() ? 0 : (a.empty() ? 1 : -1);
  }
  while (true) {
    size_t a_dot = a.find('.');
    size_t b_dot = b.find('.');
    int c = CompareIdentifiers(a.substr(0, a_dot), b.substr(0, b_dot));
    if (c != 0) return c;
    bool a_more = a_dot != absl::string_view::npos;
    bool b_more = b_dot != absl::string_view::npos;
    if (!a_more || !b_more) return a_more == b_more ? 0 : (a_more ? 1 : -1);
    a.remove_prefix(a_dot + 1);
    b.remove_prefix(b_dot + 1);
  }
}

ErrorCode ParseNumber(absl::string_view s, size_t* pos, uint64_t* out) {
  size_t i = *pos;
  if (i >= s.size() || !IsDigit(s[i])) return ErrorCode::kExpectedNumber;
  if (s[i] == '0' && i + 1 < s.size() && IsDigit(s[i + 1])) {
    return ErrorCode::kLeadingZero;
  }
  uint64_t value = 0;
  for (; i < s.size() && IsDigit(s[i]); ++i) {
    uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (value > (kMaxNumber - digit) / 10) return ErrorCode::kOverflow;
    value = value * 10 + digit;
  }
  *out = value;
  *pos = i;
  return ErrorCode::kNone;
}

// Parses dot-separated identifiers from s[*pos] up to `stop` or the end.
bool ParseIdentifiers(absl::string_view s, size_t* pos, char stop,
                      bool check_leading_zeros) {
  size_t i = *pos;
  while (true) {
    size_t start = i;
    while (i < s.size() && IsIdentifierChar(s[i])) ++i;
    absl::string_view id = s.substr(start, i - start);
    if (id.empty()) return false;
    if (check_leading_zeros && id.size() > 1 && id[0] == '0' && IsNumeric(id)) {
      return false;
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      continue;
    }
    if (i < s.size() && s[i] != stop) return false;
    *pos = i;
    return true;
  }
}

struct VersionToken {
  SemVer version;
  // Parts written as x, X or *; they follow the numeric parts.
  int wildcard_parts = 0;
};

// Parses what follows a version's numbers, from s[i]: `-PRERELEASE`,
// `+BUILD`, then the end of `s`.
ErrorCode ParseVersionSuffix(absl::string_view s, size_t i, SemVer* v,
                             size_t* error_pos) {
  if (i < s.size() && s[i] == '-') {
    size_t start = ++i;
    if (!ParseIdentifiers(s, &i, '+', /*check_leading_zeros=*/true)) {
      *error_pos = start;
      return ErrorCode::kBadPrerelease;
    }
    v->prerelease = s.substr(start, i - start);
  }
  if (i < s.size() && s[i] == '+') {
    size_t start = ++i;
    if (!ParseIdentifiers(s, &i, '\0', /*check_leading_zeros=*/false) ||
        i != s.size()) {
      *error_pos = start;
      return ErrorCode::kBadBuild;
    }
  }
  if (i < s.size()) {
    *error_pos = i;
    return ErrorCode::kUnexpectedChar;
  }
  return ErrorCode::kNone;
}

// Parses all of `s` as a version. Wildcard parts are accepted only if
// `allow_wildcards`; otherwise they are reported as kWildcardAfterOperator
// because that is the only place a request can produce them.
ErrorCode ParseVersionToken(absl::string_view s, bool allow_wildcards,
                            VersionToken* out, size_t* error_pos) {
  size_t i = 0;
  if (i < s.size() && (s[i] == 'v' || s[i] == 'V')) ++i;
  uint64_t numbers[3] = {0, 0, 0};
  int parts = 0;
  int wildcards = 0;
  for (int p = 0; p < 3; ++p) {
    if (p > 0) {
      if (i >= s.size() || s[i] != '.') break;
      ++i;
    }
    if (i < s.size() && IsWildcard(s[i])) {
      if (!allow_wildcards) {
        *error_pos = i;
        return ErrorCode::kWildcardAfterOperator;
      }
      ++wildcards;
      ++i;
      continue;
    }
    if (wildcards > 0) {
      *error_pos = i;
      return ErrorCode::kNumberAfterWildcard;
    }
    ErrorCode code = ParseNumber(s, &i, &numbers[p]);
    if (code != ErrorCode::kNone) {
      *error_pos = i;
      return code;
    }
    ++parts;
  }
  out->version =
      SemVer{numbers[0], numbers[1], numbers[2], absl::string_view(), parts};
  out->wildcard_parts = wildcards;
  if (i < s.size() && (s[i] == '-' || s[i] == '+') && wildcards > 0) {
    *error_pos = i;
    return ErrorCode::kSuffixAfterWildcard;
  }
  return ParseVersionSuffix(s, i, &out->version, error_pos);
}

bool StartsVersion(absl::string_view s) {
  if (s.empty()) return false;
  if (IsDigit(s[0])) return true;
  return (s[0] == 'v' || s[0] == 'V') && s.size() > 1 && IsDigit(s[1]);
}

// `x.1` and `*` are versions (the first one invalid); `xray` is a label.
bool StartsWildcard(absl::string_view s) {
  if (s.empty()) return false;
  if (s[0] == '*') return true;
  return (s[0] == 'x' || s[0] == 'X') && (s.size() == 1 || s[1] == '.');
}

absl::string_view ErrorText(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNone:
      return "no error";
    case ErrorCode::kEmpty:
      return "the request is empty";
    case ErrorCode::kTooLong:
      return "the request is too long";
    case ErrorCode::kExpectedNumber:
      return "expected a number";
    case ErrorCode::kLeadingZero:
      return "numbers cannot have leading zeros";
    case ErrorCode::kOverflow:
      return "the number does not fit in 64 bits";
    case ErrorCode::kBadPrerelease:
      return "invalid pre-release";
    case ErrorCode::kBadBuild:
      return "invalid build metadata";
    case ErrorCode::kUnexpectedChar:
      return "unexpected character";
    case ErrorCode::kSingleBar:
      return "a single '|'";
    case ErrorCode::kWildcardAfterOperator:
      return "wildcards cannot follow an operator";
    case ErrorCode::kNumberAfterWildcard:
      return "a wildcard part can only be followed by wildcard parts";
    case ErrorCode::kSuffixAfterWildcard:
      return "a wildcard version cannot have a pre-release or build";
    case ErrorCode::kMissingVersion:
      return "expected a version after the operator";
    case ErrorCode::kLabelNotAlone:
      return "a label must be alone in its alternative";
    case ErrorCode::kEmptyAlternative:
      return "'||' needs a range on each side";
    case ErrorCode::kTooManyAlternatives:
      return "too many alternatives joined by '||'";
    case ErrorCode::kTooManyTerms:
      return "too many space-separated terms in one alternative";
  }
  return "unknown error";
}

// How to fix the request, where the problem alone does not say.
absl::string_view ErrorHint(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBadPrerelease:
      return "use dot-separated non-empty identifiers of [0-9A-Za-z-], "
             "numbers without leading zeros";
    case ErrorCode::kBadBuild:
      return "use dot-separated non-empty identifiers of [0-9A-Za-z-]";
    case ErrorCode::kSingleBar:
      return "write '||' for OR";
    case ErrorCode::kWildcardAfterOperator:
      return "write ^1 or >=1.2 rather than ^1.x or >=1.2.x";
    case ErrorCode::kNumberAfterWildcard:
      return "write 1.x or 1.x.x";
    case ErrorCode::kLabelNotAlone:
      return "combine labels with '||', not with spaces";
    default:
      return "";
  }
}

}  // namespace

std::optional<SemVer> ParseSemVer(absl::string_view text) {
  VersionToken token;
  size_t error_pos;
  if (!StartsVersion(text) ||
      ParseVersionToken(text, /*allow_wildcards=*/false, &token, &error_pos) !=
          ErrorCode::kNone) {
    return std::nullopt;
  }
  return token.version;
}

int CompareSemVer(const SemVer& a, const SemVer& b) {
  if (int c = CompareNumbers(a.major, b.major); c != 0) return c;
  if (int c = CompareNumbers(a.minor, b.minor); c != 0) return c;
  if (int c = CompareNumbers(a.patch, b.patch); c != 0) return c;
  return ComparePrereleases(a.prerelease, b.prerelease);
}

// Fills a VersionRequest from its own copy of the text, so that pre-releases
// and labels can be stored as offsets into it.
class VersionRequestParser {
 public:
  explicit VersionRequestParser(VersionRequest* out) : out_(out) {}

  ParseError Run(absl::string_view text) {
    text = absl::StripAsciiWhitespace(text);
    if (text.empty()) return Fail(ErrorCode::kEmpty, 0);
    if (text.size() > VersionRequest::kMaxTextSize) {
      return Fail(ErrorCode::kTooLong, VersionRequest::kMaxTextSize);
    }
    std::memcpy(out_->text_, text.data(), text.size());
    out_->text_size_ = static_cast<uint16_t>(text.size());
    out_->num_alternatives_ = 0;
    s_ = out_->text();
    pos_ = 0;
    while (true) {
      if (out_->num_alternatives_ == VersionRequest::kMaxAlternatives) {
        return Fail(ErrorCode::kTooManyAlternatives, pos_ - 2);
      }
      alt_ = &out_->alternatives_[out_->num_alternatives_++];
      // Not `*alt_ = {}`: zeroing every bound would cost on the pick path.
      alt_->num_terms = 0;
      alt_->num_bounds = 0;
      alt_->has_exact = false;
      size_t alt_start = pos_;
      if (!ParseAlternative()) return error_;
      if (alt_->num_terms == 0) {
        return Fail(ErrorCode::kEmptyAlternative,
                    alt_start >= 2 ? alt_start - 2 : pos_);
      }
      if (pos_ == s_.size()) return ParseError{};
      pos_ += 2;  // "||"
    }
  }

 private:
  using Op = VersionRequest::Op;
  using Kind = VersionRequest::Kind;

  ParseError Fail(ErrorCode code, size_t pos) {
    error_ = ParseError{code, pos};
    return error_;
  }

  // Records the error for Run() and returns false, for the helpers.
  bool Reject(ErrorCode code, size_t pos) {
    Fail(code, pos);
    return false;
  }

  void SkipSpaces() {
    while (pos_ < s_.size() && absl::ascii_isspace(s_[pos_])) ++pos_;
  }

  absl::string_view NextToken() {
    size_t start = pos_;
    while (pos_ < s_.size() && !IsDelimiter(s_[pos_])) ++pos_;
    return s_.substr(start, pos_ - start);
  }

  // Parses terms up to the end or the next "||", leaving pos_ there.
  bool ParseAlternative() {
    alt_->kind = Kind::kAny;
    while (true) {
      SkipSpaces();
      if (pos_ == s_.size()) return true;
      if (s_[pos_] == '|') {
        if (pos_ + 1 < s_.size() && s_[pos_ + 1] == '|') return true;
        return Reject(ErrorCode::kSingleBar, pos_);
      }
      if (alt_->kind == Kind::kLabel) {
        return Reject(ErrorCode::kLabelNotAlone, pos_);
      }
      if (alt_->num_terms == VersionRequest::kMaxTerms) {
        return Reject(ErrorCode::kTooManyTerms, pos_);
      }
      ++alt_->num_terms;
      if (!ParseTerm()) return false;
    }
  }

  // A term's leading operator: a range ('^', '~') or a comparison.
  struct TermOperator {
    char range = '\0';  // '^' or '~'
    std::optional<Op> op;
    bool present() const { return range != '\0' || op.has_value(); }
  };

  TermOperator ParseOperator() {
    TermOperator t;
    const char c = s_[pos_];
    if (c == '^' || c == '~') {
      t.range = c;
      ++pos_;
    } else if (c == '=') {
      t.op = Op::kEq;
      ++pos_;
    } else if (c == '>' || c == '<') {
      const bool inclusive = pos_ + 1 < s_.size() && s_[pos_ + 1] == '=';
      t.op = c == '>' ? (inclusive ? Op::kGe : Op::kGt)
                      : (inclusive ? Op::kLe : Op::kLt);
      pos_ += inclusive ? 2 : 1;
    }
    return t;
  }

  bool ParseTerm() {
    const size_t term_start = pos_;
    const TermOperator oper = ParseOperator();
    if (oper.present()) SkipSpaces();
    const size_t token_start = pos_;
    const absl::string_view token = NextToken();
    if (oper.present()) {
      if (StartsWildcard(token)) {
        return Reject(ErrorCode::kWildcardAfterOperator, token_start);
      }
      if (!StartsVersion(token)) {
        return Reject(ErrorCode::kMissingVersion, term_start);
      }
    } else if (!StartsVersion(token) && !StartsWildcard(token)) {
      return ParseLabel(token, token_start);
    }
    VersionToken parsed;
    size_t error_pos = 0;
    const ErrorCode code = ParseVersionToken(
        token, /*allow_wildcards=*/!oper.present(), &parsed, &error_pos);
    if (code != ErrorCode::kNone) {
      return Reject(code, token_start + error_pos);
    }
    AddVersionTerm(oper, parsed);
    return true;
  }

  // A term that is neither a version nor a wildcard: a label ("canary"),
  // which must stand alone.
  bool ParseLabel(absl::string_view token, size_t token_start) {
    if (!absl::ascii_isalpha(token.empty() ? '\0' : token[0])) {
      return Reject(ErrorCode::kUnexpectedChar, token_start);
    }
    if (alt_->num_terms > 1) {
      return Reject(ErrorCode::kLabelNotAlone, token_start);
    }
    alt_->kind = Kind::kLabel;
    alt_->label_offset = static_cast<uint16_t>(token_start);
    alt_->label_size = static_cast<uint16_t>(token.size());
    return true;
  }

  void AddVersionTerm(const TermOperator& oper, const VersionToken& parsed) {
    const SemVer& v = parsed.version;
    if (parsed.wildcard_parts > 0) {
      if (v.parts == 0) return;  // "*": no constraint
      AddRange(v, /*bump_part=*/v.parts - 1);
      return;
    }
    alt_->kind = Kind::kRange;
    if (oper.range == '^') {
      // npm: the range ends where the first non-zero written part changes;
      // if all written parts are zero, at the last written one.
      int bump = v.parts - 1;
      if (v.major != 0) {
        bump = 0;
      } else if (v.minor != 0 && v.parts >= 2) {
        bump = 1;
      }
      AddRange(v, bump);
    } else if (oper.range == '~') {
      AddRange(v, v.parts == 1 ? 0 : 1);
    } else {
      alt_->has_exact |= oper.op.value_or(Op::kEq) == Op::kEq;
      AddBound(v, oper.op.value_or(Op::kEq));
    }
  }

  void AddBound(const SemVer& v, Op op) {
    VersionRequest::Bound& b = alt_->bounds[alt_->num_bounds++];
    b.major = v.major;
    b.minor = v.minor;
    b.patch = v.patch;
    b.pre_offset = v.prerelease.empty()
                       ? 0
                       : static_cast<uint16_t>(v.prerelease.data() - s_.data());
    b.pre_size = static_cast<uint16_t>(v.prerelease.size());
    b.op = op;
  }

  // Adds >=v and <w-0, where w is v with part `bump_part` incremented and
  // the later parts zeroed. `-0` keeps w's own pre-releases out.
  void AddRange(const SemVer& v, int bump_part) {
    alt_->kind = Kind::kRange;
    AddBound(v, Op::kGe);
    uint64_t numbers[3] = {v.major, v.minor, v.patch};
    // A part at kMaxNumber carries into the part above, like an odometer: no
    // version lies between 1.<max>.x and 2.0.0, so <2.0.0-0 excludes exactly
    // what the unrepresentable <1.<max+1>.0-0 would. Dropping the bound
    // instead would let ~1.<max> match 2.0.0.
    int part = bump_part;
    while (part >= 0 && numbers[part] == kMaxNumber) --part;
    // Even the major overflowed: every version is below the bound.
    if (part < 0) return;
    ++numbers[part];
    for (int p = part + 1; p < 3; ++p) numbers[p] = 0;
    VersionRequest::Bound& b = alt_->bounds[alt_->num_bounds++];
    b.major = numbers[0];
    b.minor = numbers[1];
    b.patch = numbers[2];
    b.pre_offset = 0;
    b.pre_size = VersionRequest::Bound::kLowestPrerelease;
    b.op = Op::kLt;
  }

  VersionRequest* out_;
  VersionRequest::Alternative* alt_ = nullptr;
  absl::string_view s_;
  size_t pos_ = 0;
  ParseError error_;
};

absl::StatusOr<VersionRequest> VersionRequest::Parse(absl::string_view text) {
  VersionRequest request;
  SyntaxError error;
  if (TryParse(text, &request, &error)) return request;
  return absl::InvalidArgumentError(
      absl::StrCat("invalid version request \"",
                   absl::CHexEscape(absl::StripAsciiWhitespace(text)),
                   "\": ", DescribeSyntaxError(text, error)));
}

bool VersionRequest::TryParse(absl::string_view text, VersionRequest* out) {
  return VersionRequestParser(out).Run(text).code == ErrorCode::kNone;
}

bool VersionRequest::TryParse(absl::string_view text, VersionRequest* out,
                              SyntaxError* error) {
  ParseError found = VersionRequestParser(out).Run(text);
  // Positions are below kMaxTextSize + 1, as longer texts are refused first.
  *error = SyntaxError{static_cast<uint8_t>(found.code),
                       static_cast<uint16_t>(found.pos)};
  return found.code == ErrorCode::kNone;
}

std::string VersionRequest::DescribeSyntaxError(absl::string_view text,
                                                SyntaxError error) {
  const auto code = static_cast<ErrorCode>(error.code);
  absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  std::string message(ErrorText(code));
  switch (code) {
    case ErrorCode::kNone:
    case ErrorCode::kEmpty:
      break;
    case ErrorCode::kTooLong:
      absl::StrAppend(&message, " (", trimmed.size(), " bytes, at most ",
                      kMaxTextSize, ")");
      break;
    case ErrorCode::kTooManyAlternatives:
      absl::StrAppend(&message, " (at most ", kMaxAlternatives, ", column ",
                      error.pos + 1, ")");
      break;
    case ErrorCode::kTooManyTerms:
      absl::StrAppend(&message, " (at most ", kMaxTerms, ", column ",
                      error.pos + 1, ")");
      break;
    default:
      if (error.pos < trimmed.size()) {
        absl::StrAppend(&message, " at '",
                        absl::CHexEscape(trimmed.substr(error.pos, 1)),
                        "' (column ", error.pos + 1, ")");
      } else {
        absl::StrAppend(&message, " at the end");
      }
      break;
  }
  if (absl::string_view hint = ErrorHint(code); !hint.empty()) {
    absl::StrAppend(&message, "; ", hint);
  }
  return message;
}

bool VersionRequest::Matches(
    absl::string_view instance_version,
    const std::optional<SemVer>& parsed_instance) const {
  for (int i = 0; i < num_alternatives_; ++i) {
    const Alternative& alt = alternatives_[i];
    switch (alt.kind) {
      case Kind::kAny:
        return true;
      case Kind::kLabel:
        if (instance_version ==
            absl::string_view(text_ + alt.label_offset, alt.label_size)) {
          return true;
        }
        break;
      case Kind::kRange:
        if (parsed_instance.has_value() &&
            RangeMatches(alt, *parsed_instance)) {
          return true;
        }
        break;
    }
  }
  return false;
}

bool VersionRequest::IsExactVersion() const {
  if (num_alternatives_ != 1) return false;
  const Alternative& alt = alternatives_[0];
  return alt.num_terms == 1 && (alt.kind == Kind::kLabel || alt.has_exact);
}

bool VersionRequest::IsAny() const {
  for (int i = 0; i < num_alternatives_; ++i) {
    if (alternatives_[i].kind == Kind::kAny) return true;
  }
  return false;
}

absl::string_view VersionRequest::Prerelease(const Bound& b) const {
  if (b.pre_size == Bound::kLowestPrerelease) return "0";
  return absl::string_view(text_ + b.pre_offset, b.pre_size);
}

int VersionRequest::CompareToBound(const SemVer& v, const Bound& b) const {
  if (int c = CompareNumbers(v.major, b.major); c != 0) return c;
  if (int c = CompareNumbers(v.minor, b.minor); c != 0) return c;
  if (int c = CompareNumbers(v.patch, b.patch); c != 0) return c;
  return ComparePrereleases(v.prerelease, Prerelease(b));
}

bool VersionRequest::RangeMatches(const Alternative& alt,
                                  const SemVer& v) const {
  if (!v.prerelease.empty()) {
    bool allowed = false;
    for (int i = 0; i < alt.num_bounds && !allowed; ++i) {
      const Bound& b = alt.bounds[i];
      allowed = b.pre_size != 0 && b.pre_size != Bound::kLowestPrerelease &&
                b.major == v.major && b.minor == v.minor && b.patch == v.patch;
    }
    if (!allowed) return false;
  }
  for (int i = 0; i < alt.num_bounds; ++i) {
    const Bound& b = alt.bounds[i];
    int c = CompareToBound(v, b);
    bool ok = false;
    switch (b.op) {
      case Op::kEq:
        ok = c == 0;
        break;
      case Op::kGt:
        ok = c > 0;
        break;
      case Op::kGe:
        ok = c >= 0;
        break;
      case Op::kLt:
        ok = c < 0;
        break;
      case Op::kLe:
        ok = c <= 0;
        break;
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace vlb::internal
