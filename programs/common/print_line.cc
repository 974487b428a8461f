#include "common/print_line.h"

#include <mutex>

namespace vlb::programs {

void PrintLine(std::FILE* stream, absl::string_view line) {
  static std::mutex* const mu = new std::mutex;
  std::lock_guard<std::mutex> lock(*mu);
  std::fwrite(line.data(), 1, line.size(), stream);
  std::fputc('\n', stream);
  std::fflush(stream);
}

}  // namespace vlb::programs
