#!/usr/bin/env python3
"""Flag audit: every flag the real etcd 3.4 lists in --help, given to raftkv.

For each flag name in `etcd --help`, raftkv runs twice with
--raftkv-check-config (validate the configuration and exit, no data dir, no
sockets): once with etcd's default value and once with a plausible other
value. Each run must either be accepted (exit 0) or exit non-zero with an
error that names the flag; "flag provided but not defined" always fails.
The flags etcd's own e2e harness passes must be accepted. docs/flags.md
must list every flag. Prints the accepted/refused counts.
"""
import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile

FIXTURES = "/usr/share/gocode/src/go.etcd.io/etcd/integration/fixtures"
HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "..", "etcd_e2e", "etcd.conf.yml.sample")

CLIENT_CERT = ["--cert-file", FIXTURES + "/server.crt",
               "--key-file", FIXTURES + "/server.key.insecure"]
PEER_CERT = ["--peer-cert-file", FIXTURES + "/server.crt",
             "--peer-key-file", FIXTURES + "/server.key.insecure"]

# A plausible non-default value per flag where "flip the bool / bump the
# number" does not fit, and flags that must come along with it.
OTHER = {
    "name": ["audit", "--initial-cluster", "audit=http://127.0.0.1:2380"],
    "data-dir": ["{tmp}/data"],
    "wal-dir": ["{tmp}/wal"],
    "listen-peer-urls": ["http://127.0.0.1:23800"],
    "listen-client-urls": ["http://127.0.0.1:23790,http://127.0.0.1:0"],
    "listen-metrics-urls": ["http://127.0.0.1:23810"],
    "initial-advertise-peer-urls": ["http://127.0.0.1:23800",
                                    "--initial-cluster",
                                    "default=http://127.0.0.1:23800"],
    "advertise-client-urls": ["http://127.0.0.1:23790"],
    "initial-cluster": ["default=http://127.0.0.1:2380,"
                        "other=http://127.0.0.1:2480"],
    "initial-cluster-state": ["existing"],
    "initial-cluster-token": ["audit-token"],
    "discovery": ["https://discovery.etcd.io/3e86b59982e49066c5d813af1c2e2579"],
    "discovery-fallback": ["exit"],
    "discovery-proxy": ["http://127.0.0.1:8080"],
    "discovery-srv": ["example.com"],
    "discovery-srv-name": ["audit"],
    "auto-compaction-retention": ["1h"],
    "auto-compaction-mode": ["revision"],
    "cert-file": [FIXTURES + "/server.crt",
                  "--key-file", FIXTURES + "/server.key.insecure"],
    "key-file": [FIXTURES + "/server.key.insecure",
                 "--cert-file", FIXTURES + "/server.crt"],
    "trusted-ca-file": [FIXTURES + "/ca.crt"] + CLIENT_CERT,
    "client-cert-auth": ["true", "--trusted-ca-file", FIXTURES + "/ca.crt"]
                        + CLIENT_CERT,
    "client-crl-file": [FIXTURES + "/revoke.crl"] + CLIENT_CERT,
    "client-cert-allowed-hostname": ["localhost"],
    "peer-cert-file": [FIXTURES + "/server.crt",
                       "--peer-key-file", FIXTURES + "/server.key.insecure"],
    "peer-key-file": [FIXTURES + "/server.key.insecure",
                      "--peer-cert-file", FIXTURES + "/server.crt"],
    "peer-trusted-ca-file": [FIXTURES + "/ca.crt"] + PEER_CERT,
    "peer-client-cert-auth": ["true", "--peer-trusted-ca-file",
                              FIXTURES + "/ca.crt"] + PEER_CERT,
    "peer-crl-file": [FIXTURES + "/revoke.crl"] + PEER_CERT,
    "peer-cert-allowed-cn": ["etcd"],
    "peer-cert-allowed-hostname": ["localhost"],
    "cipher-suites": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"],
    "cors": ["http://example.com"],
    "host-whitelist": ["example.com"],
    "auth-token": ["jwt,pub-key=" + FIXTURES + "/server.crt,priv-key=" +
                   FIXTURES + "/server.key.insecure,sign-method=RS256,ttl=5m"],
    "metrics": ["extensive"],
    "logger": ["zap"],
    "log-outputs": ["stdout"],
    "log-level": ["debug"],
    "log-package-levels": ["etcdmain=DEBUG"],
    "proxy": ["readonly"],
    "experimental-enable-v2v3": ["/v2/"],
    "experimental-backend-bbolt-freelist-type": ["map"],
    "config-file": [SAMPLE],
    "max-concurrent-streams": ["100"],
    "backend-batch-interval": ["10ms"],
}

# Passed by etcd 3.4's e2e harness (tests/e2e/cluster_test.go) or named by
# the brief: raftkv must accept them, with either value.
MUST_ACCEPT = {
    "name", "data-dir", "listen-client-urls", "advertise-client-urls",
    "listen-peer-urls", "initial-advertise-peer-urls", "initial-cluster",
    "initial-cluster-token", "initial-cluster-state", "snapshot-count",
    "quota-backend-bytes", "strict-reconfig-check",
    "experimental-initial-corrupt-check", "listen-metrics-urls",
    "auth-token", "max-concurrent-streams", "auto-tls", "peer-auto-tls",
    "cert-file", "key-file", "trusted-ca-file", "client-cert-auth",
    "peer-cert-file", "peer-key-file", "peer-trusted-ca-file",
    "peer-client-cert-auth", "client-crl-file", "cipher-suites", "logger",
    "log-outputs", "log-level", "debug", "heartbeat-interval",
    "election-timeout", "config-file",
}

# etcd defaults raftkv cannot take as given, and why.
DEFAULT_EXCEPTIONS = {
    # etcd's default advertise URL is localhost:2380, raftkv's 127.0.0.1.
    "initial-cluster": "names localhost, raftkv's default peer URL is 127.0.0.1",
    "backend-batch-interval": "help shows '', not a duration",
}
# etcd's --help shows these defaults by name, not value.
HELP_DEFAULTS = {"max-concurrent-streams": "4294967295"}


def etcd_flags(etcd):
    out = subprocess.run([etcd, "--help"], capture_output=True, text=True,
                         timeout=30)
    text = out.stdout + out.stderr
    flags = {}
    for line in text.splitlines():
        m = re.match(r"^\s+(?:etcd )?--([a-z][a-z0-9.-]*)(?: '([^']*)'| (\S+))?",
                     line)
        if m and m.group(1) not in ("help",):
            default = m.group(2) if m.group(2) is not None else m.group(3)
            flags.setdefault(m.group(1), default)
    return flags


def other_value(flag, default):
    if flag in OTHER:
        return OTHER[flag]
    if default in ("true", "false"):
        return ["false" if default == "true" else "true"]
    if default is not None and re.fullmatch(r"\d+", default):
        return [str(int(default) + 7)]
    if default is not None and re.fullmatch(r"\d+(ms|s|m|h)", default):
        return ["3s"]
    return ["audit-value"]


def run(raftkv, flag, values, tmp):
    values = [v.replace("{tmp}", tmp) for v in values]
    args = [raftkv, "--raftkv-check-config", "--" + flag + "=" + values[0]]
    args += values[1:]
    if flag not in ("data-dir",):
        args += ["--data-dir", tmp + "/d"] if flag != "config-file" else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}
    p = subprocess.run(args, capture_output=True, text=True, timeout=20,
                       env=env, cwd=tmp)
    return p.returncode, p.stderr.strip(), args


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raftkv", required=True)
    ap.add_argument("--etcd", default="/usr/bin/etcd")
    ap.add_argument("--doc", required=True)
    a = ap.parse_args()
    a.raftkv = os.path.abspath(a.raftkv)
    flags = etcd_flags(a.etcd)
    if len(flags) < 80:
        print(f"only {len(flags)} flags found in etcd --help", file=sys.stderr)
        return 1
    doc = open(a.doc).read()
    failures, accepted, refused = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for flag, default in sorted(flags.items()):
            if not re.search(r"`--" + re.escape(flag) + r"`", doc):
                failures.append(f"--{flag}: not in {a.doc}")
            default = HELP_DEFAULTS.get(flag, default)
            for kind, values in (("default", [default]),
                                 ("other", other_value(flag, default))):
                if kind == "default" and (default is None or flag in (
                        "config-file", "version")):
                    continue
                if flag == "version":
                    values = ["true"]
                jobs.append((flag, default, kind, values))
        # Each run is a short process; run several at once to stay fast on
        # a loaded machine.
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(
                lambda j: run(a.raftkv, j[0], j[3], tmp), jobs))
        outcome = {}
        for (flag, default, kind, values), (rc, err, args) in zip(jobs,
                                                                  results):
            named = re.search(r"-" + re.escape(flag) + r"\b", err) or \
                ("ETCD_" + flag.upper().replace("-", "_")) in err
            exempt = kind == "default" and flag in DEFAULT_EXCEPTIONS
            if "not defined" in err:
                failures.append(f"--{flag}: unknown to raftkv: {err}")
            elif rc != 0 and not named:
                failures.append(f"--{flag} ({kind}): error does not name "
                                f"the flag: {err!r} ({args})")
            elif rc != 0 and flag in MUST_ACCEPT and not exempt:
                failures.append(f"--{flag} ({kind}) must be accepted: "
                                f"{err!r}")
            elif rc != 0 and kind == "default" and not exempt:
                failures.append(f"--{flag}: etcd's default {default!r} "
                                f"refused: {err!r}")
            outcome.setdefault(flag, []).append(rc == 0)
        for flag, oks in sorted(outcome.items()):
            (accepted if all(oks) else refused).append(flag)
    print(f"{len(flags)} etcd flags: {len(accepted)} accepted with every "
          f"value tried, {len(refused)} refused for some value: "
          + " ".join(refused))
    for f in failures:
        print("FAIL", f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
