"""jepsen/run.sh: one run = cluster + clients + nemesis + check + report.

  jepsen/run.sh --target raftkv|etcd --workload register|set|bank|watch|lease
                --nemesis partition[,kill,...]|none --time 30 --nodes 3
                [--server-flag=--unsafe-no-read-index] [--expect invalid]
  jepsen/run.sh --cleanup        # kill our processes, delete rkvj* netns

Exit status: 0 when the verdict is the expected one (valid by default),
1 otherwise, 2 on a harness error. The cluster, the namespaces and every
process in them are removed on exit, also on Ctrl-C or an exception.
"""
import argparse
import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from . import hashkv, net
from .cluster import Cluster
from .nemesis import KINDS, Nemesis
from . import report

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def find(build, name, *more):
    for d in [build] + list(more):
        p = os.path.join(ROOT, d, name)
        if os.path.exists(p):
            return p
    return None


def parse():
    p = argparse.ArgumentParser(prog="jepsen/run.sh")
    p.add_argument("--target", default="raftkv", choices=["raftkv", "etcd"])
    p.add_argument("--workload", default="register",
                   choices=["register", "set", "bank", "watch", "lease"])
    p.add_argument("--nemesis", default="partition",
                   help="comma list of " + ",".join(KINDS) + ", or none")
    p.add_argument("--time", type=int, default=30, help="seconds of load")
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--threads", type=int, default=10)
    p.add_argument("--ops-per-key", type=int, default=150,
                   help="register: operations per key before the next key "
                        "(fewer keep each key's search small after kill-all)")
    p.add_argument("--quiet", type=float, default=3.0,
                   help="seconds of calm between faults")
    p.add_argument("--fault", type=float, default=5.0,
                   help="seconds each fault lasts")
    p.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    p.add_argument("--server-flag", action="append", default=[],
                   help="extra server flag (repeatable)")
    p.add_argument("--lose-unsynced", action="store_true",
                   help="members run under rkvj_lazyfs: a kill also drops "
                   "their unsynced writes")
    p.add_argument("--expect", default="valid", choices=["valid", "invalid"])
    p.add_argument("--build", default="build-jepsen",
                   help="build directory with jepsen-worker, jepsen-check")
    p.add_argument("--raftkv-bin", default=None)
    p.add_argument("--store", default=os.path.join(ROOT, "jepsen", "store"))
    p.add_argument("--name", default="", help="suffix of the report folder")
    p.add_argument("--cleanup", action="store_true")
    return p.parse_args()


def main():
    args = parse()
    if os.geteuid() != 0:
        print("jepsen: needs root (network namespaces, iptables)")
        return 2
    # One run at a time per machine (runs share the rkvj* names), also
    # across separate ctest or shell invocations.
    import fcntl
    lock = open("/tmp/rkvj-jepsen.lock", "w")
    if args.cleanup:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            print("jepsen: a run is in progress; not cleaning up")
            return 2
        net.cleanup()
        print("jepsen: removed rkvj* namespaces and their processes")
        return 0
    if not net.available():
        print("jepsen: network namespaces unavailable here")
        return 2
    fcntl.flock(lock, fcntl.LOCK_EX)
    kinds = [] if args.nemesis == "none" else args.nemesis.split(",")
    for k in kinds:
        if k not in KINDS:
            print(f"jepsen: unknown nemesis {k}")
            return 2
    worker = find(args.build, "jepsen/jepsen-worker", "build")
    checker = find(args.build, "jepsen/jepsen-check", "build")
    if args.target == "raftkv":
        server = args.raftkv_bin or find(args.build, "cmd/raftkv", "build")
    else:
        server = shutil.which("etcd")
    dead, healthy, hk = [], False, None
    if not (worker and checker and server):
        print(f"jepsen: missing binary (worker={worker} check={checker} "
              f"server={server}); build jepsen-worker jepsen-check raftkv")
        return 2

    name = time.strftime("%Y%m%d-%H%M%S") + (
        f"-{args.target}-{args.workload}-{args.nemesis.replace(',', '+')}"
        f"{'-' + args.name if args.name else ''}")
    run_dir = os.path.join(args.store, name)
    os.makedirs(run_dir)
    history = os.path.join(run_dir, "history.jsonl")
    open(history, "w").close()
    print(f"jepsen: {name}")

    lazy = None
    if args.lose_unsynced:
        lazy = find(args.build, "jepsen/librkvj_lazyfs.so", "build")
        if not lazy:
            print("jepsen: --lose-unsynced needs rkvj_lazyfs built")
            return 2
    cluster = Cluster(args.target, server, args.nodes, run_dir,
                      args.server_flag, lazyfs=lazy)
    cleaned = []

    def cleanup():
        if not cleaned:
            cleaned.append(True)
            cluster.stop_all()
            net.cleanup()
    atexit.register(cleanup)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: sys.exit(130))

    try:
        net.setup(args.nodes)
        cluster.start_all()
        if not cluster.wait_healthy(30):
            print("jepsen: cluster did not become healthy")
            return 2
        t0 = time.monotonic_ns()
        common = ["ip", "netns", "exec", net.HUB, worker,
                  "--workload", args.workload,
                  "--endpoints", ",".join(cluster.endpoints()),
                  "--history", history, "--t0_ns", str(t0),
                  "--seed", str(args.seed)]
        w = subprocess.Popen(common + ["--time_s", str(args.time),
                                       "--threads", str(args.threads),
                                       "--ops_per_key", str(args.ops_per_key)])
        nemesis = Nemesis(cluster, kinds, t0,
                          os.path.join(run_dir, "nemesis.jsonl"),
                          seed=args.seed, quiet=args.quiet, fault=args.fault)
        nemesis.start()
        rc = w.wait()
        nemesis.stop()
        time.sleep(2)
        dead = [i for i in range(1, args.nodes + 1) if not cluster.alive(i)]
        healthy = not dead and cluster.wait_healthy(30)
        if args.workload in ("set", "watch", "lease") and not dead:
            subprocess.run(common + ["--final_read"])
        if healthy:
            # Every member holds the same data up to a common revision
            # (harness/hashkv.py).
            hk = hashkv.check(cluster, range(1, args.nodes + 1))
            print(f"jepsen: {hk['message']}")
        cleanup()
        if rc != 0:
            print(f"jepsen: worker exited with {rc}")
    finally:
        cleanup()

    # Lease expiry may lag TTL by an election, and by each fault window
    # (checker/lease.h).
    margin = []
    if args.workload == "lease":
        faults = [f"{f['start']}-{f['end']}" for f in report._read_jsonl(
            os.path.join(run_dir, "nemesis.jsonl"))]
        margin = ["--lease_margin_ms", "3000", "--faults", ",".join(faults)]
    r = subprocess.run([checker, "--workload", args.workload,
                        "--history", history] + margin + [
                        "--verdict", os.path.join(run_dir, "check.json")],
                       capture_output=True, text=True)
    with open(os.path.join(run_dir, "check.txt"), "w") as f:
        f.write(r.stdout + r.stderr)
    try:
        with open(os.path.join(run_dir, "check.json")) as f:
            verdict = json.load(f)
    except (OSError, ValueError):
        verdict = {"verdict": "unknown", "error": r.stderr[-500:]}
    counts = {"ok": 0, "fail": 0, "info": 0}
    with open(history) as f:
        for line in f:
            t = json.loads(line).get("type")
            counts[t] = counts.get(t, 0) + 1
    verdict.update({"target": args.target, "nemesis": args.nemesis,
                    "nodes": args.nodes, "time_s": args.time,
                    "server_flags": args.server_flag, "seed": args.seed,
                    "lose_unsynced": args.lose_unsynced,
                    "ops_per_key": args.ops_per_key,
                    "ops": sum(counts.values()), "outcomes": counts,
                    "healthy_after": healthy, "dead_members": dead,
                    "hashkv": hk,
                    "date": time.strftime("%Y-%m-%d %H:%M:%S")})
    if dead:
        # Every fault was healed and killed members restarted: a member that
        # cannot come back (e.g. refuses its own WAL) lost or broke state.
        verdict["history_verdict"] = verdict["verdict"]
        verdict["verdict"] = "invalid"
        verdict["reason"] = (f"members {dead} exited after the faults healed "
                             "(see logs/)")
        print(f"jepsen: members {dead} did not survive recovery")
    elif hk is not None and not hk["ok"]:
        verdict["history_verdict"] = verdict["verdict"]
        verdict["verdict"] = "invalid"
        verdict["reason"] = hk["message"]
    with open(os.path.join(run_dir, "verdict.json"), "w") as f:
        json.dump(verdict, f, indent=1)
    report.latency_svg(run_dir, f"{name}: {verdict['verdict']}")
    report.write_index(args.store)
    print(r.stdout[-3000:], end="")
    print(f"jepsen: {verdict['verdict']} ({counts}) -> {run_dir}")
    return 0 if verdict["verdict"] == args.expect else 1


if __name__ == "__main__":
    sys.exit(main())
