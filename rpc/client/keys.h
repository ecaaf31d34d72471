// Key-range helpers with etcd's conventions (clientv3's WithPrefix and
// WithFromKey), shared by the client library, raftkvctl and the tests.
//
// A range is [key, range_end): an empty range_end names the single key, "\0"
// means "every key >= key", and key == range_end == "\0" means every key.
#ifndef RAFTKV_RPC_CLIENT_KEYS_H_
#define RAFTKV_RPC_CLIENT_KEYS_H_

#include <string>
#include <string_view>

namespace raftkv::client {

// The range_end meaning "to the end of the keyspace".
inline constexpr std::string_view kFromKeyRangeEnd{"\0", 1};

// The range_end that selects every key starting with `prefix`: the prefix with
// its last byte below 0xff incremented and the 0xff bytes after it dropped.
// When every byte is 0xff (or the prefix is empty) no such key exists and the
// result is "\0", i.e. "from the key onwards", as clientv3 does.
std::string PrefixRangeEnd(std::string_view prefix);

// A [key, range_end) pair ready to put into a request.
struct KeyRange {
  std::string key;
  std::string range_end;
};

// The range of every key with `prefix`. An empty prefix means all keys and
// becomes key == range_end == "\0".
KeyRange PrefixRange(std::string_view prefix);

// Every key >= `key`; an empty key becomes "\0" (all keys).
KeyRange FromKeyRange(std::string_view key);

}  // namespace raftkv::client

#endif  // RAFTKV_RPC_CLIENT_KEYS_H_
