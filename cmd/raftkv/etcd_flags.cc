#include "cmd/raftkv/etcd_flags.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"

namespace raftkv::cmd {
namespace {

using K = FlagKind;
using S = FlagSupport;

constexpr char kNoV2[] = "raftkv serves only the v3 API; it has no v2 store";
constexpr char kNoProxy[] = "raftkv has no v2 proxy";
constexpr char kNoDiscovery[] =
    "raftkv bootstraps only from --initial-cluster (no discovery service, no "
    "DNS SRV)";
constexpr char kNoBbolt[] =
    "bbolt tuning: raftkv's backend is LevelDB, written once per applied "
    "Raft batch";
constexpr char kNoKeepalive[] =
    "raftkv's client port does not set a gRPC keepalive policy yet (gRPC's "
    "defaults apply)";

// clang-format off
const std::vector<FlagSpec>& Table() {
  static auto* table = new std::vector<FlagSpec>{
    {"config-file", K::kString, "", S::kAction,
     "read every setting from this YAML file (etcd's keys); other flags and "
     "ETCD_* variables are then ignored, as etcd"},
    {"version", K::kBool, "false", S::kAction, "print the version and exit"},
    // Member.
    {"name", K::kString, "default", S::kAccepted, "this member's name"},
    {"data-dir", K::kString, "", S::kAccepted,
     "data directory (default ${name}.raftkv): WAL and LevelDB store"},
    {"wal-dir", K::kString, "", S::kRefused,
     "raftkv keeps its WAL inside --data-dir; a dedicated WAL directory is "
     "not supported"},
    {"snapshot-count", K::kUint, "10000", S::kAccepted,
     "applied entries between two log compactions"},
    {"heartbeat-interval", K::kUint, "100", S::kAccepted,
     "heartbeat interval in ms (one Raft tick)"},
    {"election-timeout", K::kUint, "1000", S::kAccepted,
     "election timeout in ms (at least twice the heartbeat, at most 50000)"},
    {"initial-election-tick-advance", K::kBool, "true", S::kAccepted,
     "true: a new member campaigns after a randomized election timeout; "
     "raftkv does not fast-forward ticks, and pre-vote keeps a restarted "
     "member from disrupting a leader either way"},
    {"listen-peer-urls", K::kUrls, "http://127.0.0.1:2380", S::kAccepted,
     "URLs to listen on for peer traffic"},
    {"listen-client-urls", K::kUrls, "http://127.0.0.1:2379", S::kAccepted,
     "URLs to listen on for client traffic (gRPC, JSON gateway, probes)"},
    {"max-snapshots", K::kUint, "5", S::kAccepted,
     "bound on retained snapshot files: always met, raftkv writes none (its "
     "store is the snapshot)"},
    {"max-wals", K::kUint, "5", S::kRefused,
     "raftkv removes WAL segments once a log compaction covers them "
     "(--snapshot-count); it has no file-count retention"},
    {"quota-backend-bytes", K::kInt, "0", S::kAccepted,
     "backend quota in bytes (0: 2 GiB, negative: none); over it the NOSPACE "
     "alarm is raised and writes refused (docs/space-and-integrity.md)"},
    {"backend-batch-interval", K::kDuration, "0s", S::kRefused, kNoBbolt},
    {"backend-batch-limit", K::kInt, "0", S::kRefused, kNoBbolt},
    {"max-txn-ops", K::kUint, "128", S::kAccepted,
     "maximum operations in one transaction"},
    {"max-request-bytes", K::kUint, "1572864", S::kAccepted,
     "maximum client request size in bytes"},
    {"max-concurrent-streams", K::kUint32, "4294967295", S::kAccepted,
     "HTTP/2 streams per client connection"},
    {"grpc-keepalive-min-time", K::kDuration, "5s", S::kRefused,
     kNoKeepalive},
    {"grpc-keepalive-interval", K::kDuration, "2h", S::kRefused,
     kNoKeepalive},
    {"grpc-keepalive-timeout", K::kDuration, "20s", S::kRefused,
     kNoKeepalive},
    // Clustering.
    {"initial-advertise-peer-urls", K::kUrls, "", S::kAccepted,
     "this member's peer URLs (default: --listen-peer-urls)"},
    {"initial-cluster", K::kString, "", S::kAccepted,
     "name=peer-URL,... (a name may repeat for several URLs; default "
     "${name}=${initial-advertise-peer-urls})"},
    {"initial-cluster-state", K::kString, "new", S::kAccepted,
     "new: bootstrap; existing: join"},
    {"initial-cluster-token", K::kString, "etcd-cluster", S::kAccepted,
     "mixed into member and cluster IDs"},
    {"advertise-client-urls", K::kUrls, "", S::kAccepted,
     "client URLs published to the cluster (default: --listen-client-urls)"},
    {"discovery", K::kString, "", S::kRefused, kNoDiscovery},
    {"discovery-fallback", K::kString, "proxy", S::kRefused,
     "only used with --discovery, which raftkv does not support", "exit"},
    {"discovery-proxy", K::kString, "", S::kRefused, kNoDiscovery},
    {"discovery-srv", K::kString, "", S::kRefused, kNoDiscovery},
    {"discovery-srv-name", K::kString, "", S::kRefused, kNoDiscovery},
    {"strict-reconfig-check", K::kBool, "true", S::kAccepted,
     "refuse member changes that would lose quorum"},
    {"pre-vote", K::kBool, "false", S::kAccepted,
     "raftkv always runs the pre-vote phase; false is accepted and changes "
     "nothing (pre-vote only prevents disruptive elections)"},
    {"auto-compaction-retention", K::kString, "0", S::kRefused,
     "raftkv has no automatic compaction yet: compact with the Compact RPC "
     "(etcdctl compact)"},
    {"auto-compaction-mode", K::kString, "periodic", S::kAccepted,
     "periodic or revision (checked; meaningful with "
     "--auto-compaction-retention)"},
    {"enable-v2", K::kBool, "false", S::kRefused, kNoV2},
    // Security.
    {"cert-file", K::kString, "", S::kAccepted, "client TLS certificate"},
    {"key-file", K::kString, "", S::kAccepted, "client TLS key"},
    {"client-cert-auth", K::kBool, "false", S::kAccepted,
     "require client certificates signed by --trusted-ca-file"},
    {"client-crl-file", K::kString, "", S::kAccepted,
     "client certificate revocation list"},
    {"client-cert-allowed-hostname", K::kString, "", S::kAccepted,
     "client certificates must name this host"},
    {"trusted-ca-file", K::kString, "", S::kAccepted, "client TLS CA"},
    {"auto-tls", K::kBool, "false", S::kAccepted,
     "client TLS with a generated self-signed certificate"},
    {"peer-cert-file", K::kString, "", S::kAccepted, "peer TLS certificate"},
    {"peer-key-file", K::kString, "", S::kAccepted, "peer TLS key"},
    {"peer-client-cert-auth", K::kBool, "false", S::kAccepted,
     "require peer certificates signed by --peer-trusted-ca-file"},
    {"peer-trusted-ca-file", K::kString, "", S::kAccepted, "peer TLS CA"},
    {"peer-cert-allowed-cn", K::kString, "", S::kAccepted,
     "peer certificates must carry this CommonName"},
    {"peer-cert-allowed-hostname", K::kString, "", S::kAccepted,
     "peer certificates must name this host"},
    {"peer-auto-tls", K::kBool, "false", S::kAccepted,
     "peer TLS with generated self-signed certificates"},
    {"peer-crl-file", K::kString, "", S::kAccepted,
     "peer certificate revocation list"},
    {"cipher-suites", K::kStrings, "", S::kAccepted,
     "TLS 1.2 cipher suites (Go/IANA names) for client and peer ports"},
    {"cors", K::kStrings, "*", S::kRefused,
     "raftkv's HTTP endpoints send no CORS headers; only '*' (the default) "
     "is accepted"},
    {"host-whitelist", K::kStrings, "*", S::kRefused,
     "raftkv does not check the Host header of HTTP requests; only '*' "
     "(the default) is accepted"},
    {"enable-grpc-gateway", K::kBool, "true", S::kAccepted,
     "serve the JSON gateway (/v3/...) on the client URLs"},
    // Auth.
    {"auth-token", K::kString, "simple", S::kAccepted,
     "simple or jwt,sign-method=...,pub-key=...,priv-key=...,ttl=... "
     "(checked and stored; raftkv's auth is not built yet)"},
    {"bcrypt-cost", K::kUint, "10", S::kAccepted,
     "bcrypt cost for passwords, 4 to 31 (checked and stored)"},
    {"auth-token-ttl", K::kUint, "300", S::kAccepted,
     "simple token lifetime in seconds (checked and stored)"},
    // Profiling and monitoring.
    {"enable-pprof", K::kBool, "false", S::kRefused,
     "raftkv is not a Go program: there is no /debug/pprof; profile with "
     "perf"},
    {"metrics", K::kString, "basic", S::kRefused,
     "raftkv's /metrics has no histogram series; only 'basic' (the "
     "default) is accepted"},
    {"listen-metrics-urls", K::kUrls, "", S::kAccepted,
     "extra http URLs for /metrics and the health probes"},
    // Logging.
    {"logger", K::kString, "capnslog", S::kAccepted,
     "capnslog or zap (checked; raftkv has one log format of its own)"},
    {"log-outputs", K::kStrings, "default", S::kAccepted,
     "where raftkv's log goes: default or stderr, stdout, or one file path"},
    {"log-output", K::kStrings, "default", S::kAccepted,
     "etcd's deprecated spelling of --log-outputs"},
    {"log-level", K::kString, "info", S::kAccepted,
     "debug, info, warn, error, panic or fatal (checked; raftkv's own lines "
     "have one level, so the level selects nothing yet)"},
    {"debug", K::kBool, "false", S::kAccepted,
     "etcd's deprecated --log-level=debug"},
    {"log-package-levels", K::kString, "", S::kRefused,
     "capnslog per-package levels: raftkv has no capnslog packages"},
    // v2 proxy.
    {"proxy", K::kString, "off", S::kRefused, kNoProxy},
    {"proxy-failure-wait", K::kUint, "5000", S::kRefused, kNoProxy},
    {"proxy-refresh-interval", K::kUint, "30000", S::kRefused, kNoProxy},
    {"proxy-dial-timeout", K::kUint, "1000", S::kRefused, kNoProxy},
    {"proxy-write-timeout", K::kUint, "5000", S::kRefused, kNoProxy},
    {"proxy-read-timeout", K::kUint, "0", S::kRefused, kNoProxy},
    // Experimental.
    {"experimental-initial-corrupt-check", K::kBool, "false", S::kAccepted,
     "before serving, compare HashKV with every reachable peer and refuse "
     "to start on a mismatch"},
    {"experimental-corrupt-check-time", K::kDuration, "0s", S::kAccepted,
     "how often the leader compares HashKV with every member and raises "
     "CORRUPT on a mismatch (0s: never)"},
    {"experimental-enable-v2v3", K::kString, "", S::kRefused, kNoV2},
    {"experimental-backend-bbolt-freelist-type", K::kString, "array",
     S::kRefused, kNoBbolt},
    {"experimental-enable-lease-checkpoint", K::kBool, "false", S::kAccepted,
     "raftkv always checkpoints leases (every --lease-checkpoint-interval); "
     "false is accepted, the checkpoints stay"},
    {"experimental-enable-lease-checkpoint-persist", K::kBool, "false",
     S::kAccepted,
     "raftkv's checkpoints are applied entries, so always persisted; as "
     "etcd, true requires --experimental-enable-lease-checkpoint"},
    {"experimental-compaction-batch-limit", K::kInt, "1000", S::kRefused,
     "raftkv's physical compaction has its own batching, not tunable"},
    {"experimental-peer-skip-client-san-verification", K::kBool, "false",
     S::kRefused,
     "raftkv does not check peers' client-certificate SANs against their "
     "address, so there is no check to skip; only false is accepted"},
    {"experimental-watch-progress-notify-interval", K::kDuration, "10m",
     S::kAccepted,
     "period of progress notifications for watchers that ask (at least "
     "100ms)"},
    {"experimental-warning-apply-duration", K::kDuration, "100ms",
     S::kRefused, "raftkv does not time individual applies"},
    // Unsafe.
    {"force-new-cluster", K::kBool, "false", S::kRefused,
     "raftkv cannot yet rewrite its membership into a one-member cluster"},
    {"unsafe-no-fsync", K::kBool, "false", S::kAccepted,
     "TEST ONLY: never fsync the WAL"},
    // raftkv's own.
    {"raftkv-check-config", K::kBool, "false", S::kAction,
     "validate the configuration, print it, and exit (0 if valid) without "
     "opening the data dir", "", false},
    {"lease-checkpoint-interval", K::kDuration, "5m", S::kAccepted,
     "how often the leader replicates leases' remaining TTLs", "", false},
    {"tls-min-version", K::kString, "TLS1.2", S::kAccepted,
     "minimum TLS version (TLS1.2 or below: raftkv negotiates 1.2 and 1.3)",
     "", false},
    {"tls-max-version", K::kString, "", S::kAccepted,
     "maximum TLS version (empty or TLS1.3)", "", false},
    {"unsafe-no-read-index", K::kBool, "false", S::kAccepted,
     "TEST ONLY: serve linearizable reads from local state", "", false},
    {"unsafe-ack-before-commit", K::kBool, "false", S::kAccepted,
     "TEST ONLY: answer writes before they commit", "", false},
  };
  // etcd's list of retired flags: accepted with a warning, as etcd.
  static bool once = [] {
    for (const char* name :
         {"cluster-active-size", "cluster-remove-delay",
          "cluster-sync-interval", "config", "force", "max-result-buffer",
          "max-retry-attempts", "peer-heartbeat-interval",
          "peer-election-timeout", "retry-interval", "snapshot", "v", "vv",
          "test.coverprofile", "test.outputdir"}) {
      table->push_back({name, K::kBool, "", S::kLegacy,
                        "retired etcd flag: a warning, then ignored (as "
                        "etcd)"});
    }
    return true;
  }();
  (void)once;
  return *table;
}
// clang-format on

bool ParseGoBool(const std::string& v, bool* out) {
  static const char* kTrue[] = {"1", "t", "T", "TRUE", "true", "True"};
  static const char* kFalse[] = {"0", "f", "F", "FALSE", "false", "False"};
  for (const char* t : kTrue) {
    if (v == t) return *out = true, true;
  }
  for (const char* f : kFalse) {
    if (v == f) return *out = false, true;
  }
  return false;
}

// Go's strconv.ParseUint(v, 0, 64) and ParseInt(v, 0, 64), without '_'.
bool ParseGoInt(const std::string& v, bool is_signed, int64_t* s, uint64_t* u) {
  std::string digits = v;
  bool negative = false;
  if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
    if (!is_signed) return false;
    negative = digits[0] == '-';
    digits = digits.substr(1);
  }
  int base = 10;
  if (digits.size() > 1 && digits[0] == '0') {
    const char p = absl::ascii_tolower(digits[1]);
    if (p == 'x' || p == 'o' || p == 'b') {
      base = p == 'x' ? 16 : (p == 'o' ? 8 : 2);
      digits = digits.substr(2);
    } else {
      base = 8;
      digits = digits.substr(1);
    }
  }
  if (digits.empty()) return false;
  for (char c : digits) {
    if (!absl::ascii_isxdigit(c)) return false;
  }
  errno = 0;
  char* end = nullptr;
  const unsigned long long n = strtoull(digits.c_str(), &end, base);
  if (errno != 0 || *end != '\0') return false;
  if (!is_signed) {
    *u = n;
    return true;
  }
  if (n > (negative ? 1ULL << 63 : (1ULL << 63) - 1)) return false;
  *s = negative ? static_cast<int64_t>(0 - n) : static_cast<int64_t>(n);
  return true;
}

absl::Status CheckUrl(absl::string_view url) {
  const size_t sep = url.find("://");
  if (sep == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("URL \"", url, "\" has no scheme"));
  }
  const absl::string_view scheme = url.substr(0, sep);
  if (scheme != "http" && scheme != "https" && scheme != "unix" &&
      scheme != "unixs") {
    return absl::InvalidArgumentError(absl::StrCat(
        "URL \"", url, "\": scheme must be http, https, unix, or unixs"));
  }
  absl::string_view host = url.substr(sep + 3);
  absl::ConsumeSuffix(&host, "/");
  if (host.find('/') != host.npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("URL \"", url, "\" must not contain a path"));
  }
  const size_t colon = host.rfind(':');
  if (colon == host.npos || host.substr(colon + 1).find(']') != host.npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "URL \"", url, "\": address does not have the form host:port"));
  }
  return absl::OkStatus();
}

bool IsNeutral(const FlagSpec& spec, const std::string& value) {
  if (value == spec.default_value) return true;
  for (absl::string_view n : absl::StrSplit(spec.neutral, '|')) {
    if (!n.empty() && value == n) return true;
  }
  if (spec.kind == K::kBool) {
    bool b = false, d = false;
    return ParseGoBool(value, &b) && ParseGoBool(spec.default_value, &d) &&
           b == d;
  }
  if (spec.kind == K::kDuration) {
    absl::Duration a, b;
    return absl::ParseDuration(value, &a) &&
           absl::ParseDuration(spec.default_value, &b) && a == b;
  }
  if (spec.kind == K::kUint || spec.kind == K::kInt) {
    int64_t s1 = 0, s2 = 0;
    uint64_t u1 = 0, u2 = 0;
    const bool sg = spec.kind == K::kInt;
    return ParseGoInt(value, sg, &s1, &u1) &&
           ParseGoInt(spec.default_value, sg, &s2, &u2) && s1 == s2 && u1 == u2;
  }
  return false;
}

}  // namespace

const std::vector<FlagSpec>& AllFlags() { return Table(); }

const FlagSpec* FindFlag(absl::string_view name) {
  for (const FlagSpec& spec : Table()) {
    if (name == spec.name) return &spec;
  }
  return nullptr;
}

absl::Status CheckValue(const FlagSpec& spec, const std::string& value) {
  int64_t s = 0;
  uint64_t u = 0;
  bool b = false;
  absl::Duration d;
  switch (spec.kind) {
    case K::kString:
    case K::kStrings:
      return absl::OkStatus();
    case K::kBool:
      if (spec.support == S::kLegacy || ParseGoBool(value, &b)) {
        return absl::OkStatus();
      }
      return absl::InvalidArgumentError("parse error (want true or false)");
    case K::kUint:
    case K::kUint32:
      if (!ParseGoInt(value, false, &s, &u)) {
        return absl::InvalidArgumentError("not an unsigned integer");
      }
      if (spec.kind == K::kUint32 && u > 0xffffffffULL) {
        return absl::InvalidArgumentError("value out of range (32 bits)");
      }
      return absl::OkStatus();
    case K::kInt:
      if (!ParseGoInt(value, true, &s, &u)) {
        return absl::InvalidArgumentError("not an integer");
      }
      return absl::OkStatus();
    case K::kDuration:
      if (value == "inf" || value == "-inf" ||
          !absl::ParseDuration(value, &d)) {
        return absl::InvalidArgumentError(
            "not a duration (e.g. 100ms, 5s, 1h30m)");
      }
      return absl::OkStatus();
    case K::kUrls:
      for (absl::string_view url :
           absl::StrSplit(value, ',', absl::SkipWhitespace())) {
        if (absl::Status st = CheckUrl(absl::StripAsciiWhitespace(url));
            !st.ok()) {
          return st;
        }
      }
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

void FlagValues::Set(const std::string& name, std::string value,
                     std::string origin) {
  values_[name] = Entry{std::move(value), std::move(origin)};
}

bool FlagValues::IsSet(absl::string_view name) const {
  return values_.find(name) != values_.end();
}

std::string FlagValues::Get(absl::string_view name) const {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second.value;
  const FlagSpec* spec = FindFlag(name);
  return spec == nullptr ? "" : spec->default_value;
}

std::string FlagValues::Origin(absl::string_view name) const {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second.origin;
  return absl::StrCat("--", name);
}

std::vector<std::string> FlagValues::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, entry] : values_) names.push_back(name);
  return names;
}

absl::StatusOr<CommandLine> ParseCommandLine(
    const std::vector<std::string>& args) {
  CommandLine cl;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') break;
    if (arg == "--") {
      ++i;
      break;
    }
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    if (body.empty() || body[0] == '-' || body[0] == '=') {
      return absl::InvalidArgumentError(absl::StrCat("bad flag syntax: ", arg));
    }
    std::string name = body, value;
    bool has_value = false;
    if (const size_t eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    if (name == "h" || name == "help") {
      cl.help = true;
      continue;
    }
    const FlagSpec* spec = FindFlag(name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("flag provided but not defined: -", name));
    }
    if (spec->kind == K::kBool && !has_value) {
      value = "true";
    } else if (!has_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag needs an argument: -", name));
      }
      value = args[++i];
    }
    if (absl::Status s = CheckValue(*spec, value); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid value \"", value, "\" for flag -", name, ": ", s.message()));
    }
    bool on = false;
    if (spec->support == S::kLegacy) {
      cl.warnings.push_back(absl::StrCat(
          "flag \"-", name, "\" is no longer supported - ignoring."));
    } else if (name == "version") {
      cl.version = ParseGoBool(value, &on) && on;
    } else if (name == "raftkv-check-config") {
      cl.check_config = ParseGoBool(value, &on) && on;
    } else if (name == "config-file") {
      cl.config_file = value;
    } else {
      cl.flags.Set(name, value, absl::StrCat("--", name));
    }
  }
  if (i < args.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", args[i], "' is not a valid flag"));
  }
  return cl;
}

std::string EnvName(absl::string_view flag) {
  std::string env = absl::StrCat("ETCD_", flag);
  for (char& c : env) {
    c = c == '-' ? '_' : absl::ascii_toupper(c);
  }
  return env;
}

absl::Status ApplyEnvironment(const std::vector<std::string>& environ,
                              FlagValues* flags,
                              std::vector<std::string>* log) {
  std::map<std::string, std::string> env;
  for (const std::string& kv : environ) {
    const size_t eq = kv.find('=');
    env[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  std::map<std::string, const FlagSpec*> by_env;
  for (const FlagSpec& spec : Table()) by_env[EnvName(spec.name)] = &spec;
  for (const auto& [key, value] : env) {
    if (!absl::StartsWith(key, "ETCD_")) continue;
    auto it = by_env.find(key);
    if (it == by_env.end()) {
      log->push_back(
          absl::StrCat("unrecognized environment variable ", key, "=", value));
      continue;
    }
    const FlagSpec& spec = *it->second;
    if (flags->IsSet(spec.name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "conflicting environment variable \"", key,
          "\" is shadowed by corresponding command-line flag (either unset "
          "environment variable or disable flag)"));
    }
    // The config file's variable is read before any other (config.cc),
    // and the action flags are not settings.
    if (value.empty() || spec.support == S::kAction) continue;
    if (absl::Status s = CheckValue(spec, value); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid value \"", value, "\" for ", key, ": ", s.message()));
    }
    log->push_back(absl::StrCat("recognized and used environment variable ",
                                key, "=", value));
    if (spec.support == S::kLegacy) {
      log->push_back(absl::StrCat("flag \"-", spec.name,
                                  "\" is no longer supported - ignoring."));
      continue;
    }
    flags->Set(spec.name, value, key);
  }
  return absl::OkStatus();
}

absl::Status CheckRefused(const FlagValues& flags) {
  for (const std::string& name : flags.Names()) {
    const FlagSpec* spec = FindFlag(name);
    if (spec->support != S::kRefused) continue;
    const std::string value = flags.Get(name);
    if (IsNeutral(*spec, value)) continue;
    return absl::InvalidArgumentError(absl::StrCat(
        flags.Origin(name), "=", value, " is not supported: ", spec->note));
  }
  return absl::OkStatus();
}

std::string HelpText() {
  std::string out =
      "Usage:\n\n  raftkv [flags]\n    Start a raftkv member (etcd 3.4's flag "
      "names; ETCD_* environment variables too).\n\n  raftkv --version\n  "
      "raftkv -h | --help\n\nFlags (default; what raftkv does):\n";
  for (const FlagSpec& spec : Table()) {
    if (spec.support == S::kLegacy) continue;
    absl::StrAppend(&out, "  --", spec.name, " '", spec.default_value, "'\n",
                    "    ", spec.support == S::kRefused ? "[refused] " : "",
                    spec.note, "\n");
  }
  return out;
}

}  // namespace raftkv::cmd
