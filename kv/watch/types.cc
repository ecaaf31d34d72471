#include "kv/watch/types.h"

namespace raftkv::kv::watch {

absl::Status WatchSpec::Normalize() {
  if (key.empty()) key = std::string(1, '\0');
  // etcd: range_end "\0" means every key >= key; otherwise a non-empty end
  // must lie above the key.
  const bool to_end = range_end.size() == 1 && range_end[0] == '\0';
  if (!range_end.empty() && !to_end && key >= range_end) {
    return absl::InvalidArgumentError("mvcc: watcher range is empty");
  }
  return absl::OkStatus();
}

bool WatchSpec::Contains(const std::string& k) const {
  if (range_end.empty()) return k == key;
  if (k < key) return false;
  if (range_end.size() == 1 && range_end[0] == '\0') return true;
  return k < range_end;
}

bool WatchSpec::Accepts(const mvccpb::Event& event) const {
  if (event.type() == mvccpb::Event::PUT) return !no_put;
  return !no_delete;
}

}  // namespace raftkv::kv::watch
