// Request builders; see ops.h.
#include "cmd/raftkvctl/ops.h"

#include <iostream>
#include <iterator>

#include "absl/strings/ascii.h"
#include "cmd/raftkvctl/command.h"
#include "rpc/client/keys.h"

namespace raftkv::ctl {

void GetFlags::Register(FlagSet& f) {
  f.String("consistency", 0, &consistency);
  f.String("order", 0, &order);
  f.String("sort-by", 0, &sort_by);
  f.Int64("limit", 0, &limit);
  f.Bool("prefix", 0, &prefix);
  f.Bool("from-key", 0, &from_key);
  f.Int64("rev", 0, &rev);
  f.Bool("keys-only", 0, &keys_only);
  f.Bool("count-only", 0, &count_only);
  f.Bool("print-value-only", 0, &print_value_only);
}

void PutFlags::Register(FlagSet& f) {
  f.String("lease", 0, &lease);
  f.Bool("prev-kv", 0, &prev_kv);
  f.Bool("ignore-value", 0, &ignore_value);
  f.Bool("ignore-lease", 0, &ignore_lease);
}

void DelFlags::Register(FlagSet& f) {
  f.Bool("prefix", 0, &prefix);
  f.Bool("prev-kv", 0, &prev_kv);
  f.Bool("from-key", 0, &from_key);
}

namespace {

constexpr char kBothPrefixAndFromKey[] =
    "`--prefix` and `--from-key` cannot be set at the same time, choose one";
constexpr char kTooManyArgs[] =
    "too many arguments, only accept one argument when `--prefix` or "
    "`--from-key` is set";

// Sets key/range_end as clientv3's WithPrefix/WithFromKey/WithRange do.
template <typename Request>
void SetRange(Request& req, const std::string& key, const std::string* end,
              bool prefix, bool from_key) {
  req.set_key(key);
  if (end != nullptr) req.set_range_end(*end);
  if (prefix) {
    client::KeyRange r = client::PrefixRange(key);
    if (key.empty()) r = client::FromKeyRange(key);
    req.set_key(r.key);
    req.set_range_end(r.range_end);
  }
  if (from_key) {
    client::KeyRange r = client::FromKeyRange(key);
    req.set_key(r.key);
    req.set_range_end(r.range_end);
  }
}

}  // namespace

etcdserverpb::RangeRequest BuildRange(const GetFlags& f,
                                      const std::vector<std::string>& args) {
  if (args.empty()) {
    ExitWithError(kExitBadArgs,
                  "get command needs one argument as key and an optional "
                  "argument as range_end");
  }
  if (f.prefix && f.from_key)
    ExitWithError(kExitBadArgs, kBothPrefixAndFromKey);
  etcdserverpb::RangeRequest req;
  if (f.consistency == "s") {
    req.set_serializable(true);
  } else if (f.consistency != "l") {
    ExitWithError(kExitBadFeature,
                  "unknown consistency flag \"" + f.consistency + "\"");
  }
  if (args.size() > 1 && (f.prefix || f.from_key)) {
    ExitWithError(kExitBadArgs, kTooManyArgs);
  }
  req.set_limit(f.limit);
  if (f.rev > 0) req.set_revision(f.rev);

  using RR = etcdserverpb::RangeRequest;
  RR::SortOrder order = RR::NONE;
  const std::string o = absl::AsciiStrToUpper(f.order);
  if (o == "ASCEND") {
    order = RR::ASCEND;
  } else if (o == "DESCEND") {
    order = RR::DESCEND;
  } else if (!o.empty()) {
    ExitWithError(kExitBadFeature, "bad sort order " + f.order);
  }
  RR::SortTarget target = RR::KEY;
  const std::string t = absl::AsciiStrToUpper(f.sort_by);
  if (t == "CREATE") {
    target = RR::CREATE;
  } else if (t == "MODIFY") {
    target = RR::MOD;
  } else if (t == "VALUE") {
    target = RR::VALUE;
  } else if (t == "VERSION") {
    target = RR::VERSION;
  } else if (!t.empty() && t != "KEY") {
    ExitWithError(kExitBadFeature, "bad sort target " + f.sort_by);
  }
  // The server already returns keys in ascending order; asking for it
  // explicitly would make it read the whole range first (clientv3 WithSort).
  if (target == RR::KEY && order == RR::ASCEND) order = RR::NONE;
  req.set_sort_order(order);
  req.set_sort_target(target);

  SetRange(req, args[0], args.size() > 1 ? &args[1] : nullptr, f.prefix,
           f.from_key);
  req.set_keys_only(f.keys_only);
  req.set_count_only(f.count_only);
  return req;
}

etcdserverpb::PutRequest BuildPut(const PutFlags& f,
                                  const std::vector<std::string>& args,
                                  bool allow_stdin) {
  constexpr char kUsage[] =
      "put command needs 1 argument and input from stdin or 2 arguments";
  if (args.empty()) ExitWithError(kExitBadArgs, kUsage);
  if (f.ignore_value && args.size() > 1) {
    ExitWithError(kExitBadArgs,
                  "put command needs only 1 argument when 'ignore-value' is "
                  "set");
  }
  etcdserverpb::PutRequest req;
  req.set_key(args[0]);
  if (!f.ignore_value) {
    if (args.size() > 1) {
      req.set_value(args[1]);
    } else if (allow_stdin) {
      std::string value((std::istreambuf_iterator<char>(std::cin)),
                        std::istreambuf_iterator<char>());
      req.set_value(value);
    } else {
      ExitWithError(kExitBadArgs, kUsage);
    }
  }
  char* end = nullptr;
  errno = 0;
  const long long id = std::strtoll(f.lease.c_str(), &end, 16);
  if (f.lease.empty() || *end != '\0' || errno != 0) {
    ExitWithError(kExitBadArgs, "bad lease ID (strconv.ParseInt: parsing \"" +
                                    f.lease +
                                    "\": invalid syntax), expecting ID in Hex");
  }
  req.set_lease(id);
  req.set_prev_kv(f.prev_kv);
  req.set_ignore_value(f.ignore_value);
  req.set_ignore_lease(f.ignore_lease);
  return req;
}

etcdserverpb::DeleteRangeRequest BuildDel(
    const DelFlags& f, const std::vector<std::string>& args) {
  if (args.empty() || args.size() > 2) {
    ExitWithError(kExitBadArgs,
                  "del command needs one argument as key and an optional "
                  "argument as range_end");
  }
  if (f.prefix && f.from_key)
    ExitWithError(kExitBadArgs, kBothPrefixAndFromKey);
  if (args.size() > 1 && (f.prefix || f.from_key)) {
    ExitWithError(kExitBadArgs, kTooManyArgs);
  }
  etcdserverpb::DeleteRangeRequest req;
  SetRange(req, args[0], args.size() > 1 ? &args[1] : nullptr, f.prefix,
           f.from_key);
  req.set_prev_kv(f.prev_kv);
  return req;
}

}  // namespace raftkv::ctl
