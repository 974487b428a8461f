// Line output shared by the command-line programs.
#ifndef VLB_PROGRAMS_COMMON_PRINT_LINE_H_
#define VLB_PROGRAMS_COMMON_PRINT_LINE_H_

#include <cstdio>

#include "absl/strings/string_view.h"

namespace vlb::programs {

// Writes `line` and a newline as one flushed write, safe from any thread:
// readers of a pipe (scripts/demo, tests) see each line when it happens and
// lines from different threads never interleave. Costs one mutex and one
// fflush.
void PrintLine(std::FILE* stream, absl::string_view line);

}  // namespace vlb::programs

#endif  // VLB_PROGRAMS_COMMON_PRINT_LINE_H_
