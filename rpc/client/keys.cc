// Key-range helpers; see keys.h.
#include "rpc/client/keys.h"

namespace raftkv::client {

std::string PrefixRangeEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    unsigned char last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(kFromKeyRangeEnd);
}

KeyRange PrefixRange(std::string_view prefix) {
  if (prefix.empty()) {
    return {std::string(kFromKeyRangeEnd), std::string(kFromKeyRangeEnd)};
  }
  return {std::string(prefix), PrefixRangeEnd(prefix)};
}

KeyRange FromKeyRange(std::string_view key) {
  std::string k =
      key.empty() ? std::string(kFromKeyRangeEnd) : std::string(key);
  return {std::move(k), std::string(kFromKeyRangeEnd)};
}

}  // namespace raftkv::client
