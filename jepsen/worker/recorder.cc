#include "jepsen/worker/recorder.h"

#include <time.h>

#include "absl/strings/str_cat.h"

namespace raftkv::jepsen {

int64_t Recorder::Now() const {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec - t0_ns_;
}

void Recorder::Record(const Op& op, const std::string& node,
                      const std::string& error) {
  std::string line = FormatOp(op);
  line.pop_back();  // the closing brace
  absl::StrAppend(&line, ",\"node\":\"", node, "\"");
  if (!error.empty()) {
    std::string clean;
    for (char c : error.substr(0, 120)) {
      clean.push_back(c == '"' || c == '\\' || c < 0x20 ? '\'' : c);
    }
    absl::StrAppend(&line, ",\"error\":\"", clean, "\"");
  }
  line += "}\n";
  absl::MutexLock lock(&mu_);
  fputs(line.c_str(), out_);
  fflush(out_);
}

}  // namespace raftkv::jepsen
