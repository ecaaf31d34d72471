#!/usr/bin/env python3
"""A raftkv member started only from --config-file (etcd's YAML keys) serves.

Writes a config file with free 127.0.0.1 ports and a temporary data dir,
starts `raftkv --config-file FILE` with a contradicting flag and ETCD_*
variable (both must be ignored, as etcd), waits for etcd's readiness line,
then puts and gets a key with the real etcdctl and checks the member's name
is the file's. Every wait has a deadline; the member is stopped at the end.
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raftkv", required=True)
    ap.add_argument("--etcdctl", default="etcdctl")
    a = ap.parse_args()
    client, peer = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "etcd.conf.yml")
        with open(conf, "w") as f:
            f.write(f"""name: 'from-file'
data-dir: {tmp}/data
heartbeat-interval: 50
election-timeout: 500
listen-peer-urls: http://127.0.0.1:{peer}
listen-client-urls: http://127.0.0.1:{client}
initial-advertise-peer-urls: http://127.0.0.1:{peer}
advertise-client-urls: http://127.0.0.1:{client}
initial-cluster: from-file=http://127.0.0.1:{peer}
initial-cluster-state: 'new'
strict-reconfig-check: false
log-outputs: [stderr]
""")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}
        env["ETCD_NAME"] = "from-env"
        proc = subprocess.Popen(
            [a.raftkv, "--config-file", conf, "--name", "from-flag"],
            stderr=subprocess.PIPE, text=True, env=env)
        lines, ready = [], threading.Event()

        def read():
            for line in proc.stderr:
                lines.append(line)
                if "published {Name:from-file" in line:
                    ready.set()
        threading.Thread(target=read, daemon=True).start()
        try:
            if not ready.wait(90):
                print("no readiness line within 90 s:\n" + "".join(lines),
                      file=sys.stderr)
                return 1
            if not any("Loading server configuration from" in l
                       for l in lines):
                print("no config-file log line:\n" + "".join(lines),
                      file=sys.stderr)
                return 1
            ep = f"--endpoints=http://127.0.0.1:{client}"
            ctl_env = dict(env, ETCDCTL_API="3")
            ctl_env.pop("ETCD_NAME")
            deadline = time.time() + 30
            while True:
                put = subprocess.run([a.etcdctl, ep, "put", "k", "v"],
                                     capture_output=True, text=True,
                                     env=ctl_env, timeout=30)
                if put.returncode == 0 or time.time() > deadline:
                    break
                time.sleep(0.2)  # retry until the deadline, not a fixed wait
            get = subprocess.run([a.etcdctl, ep, "get", "k", "--print-value-only"],
                                 capture_output=True, text=True, env=ctl_env,
                                 timeout=30)
            members = subprocess.run([a.etcdctl, ep, "member", "list"],
                                     capture_output=True, text=True,
                                     env=ctl_env, timeout=30)
            if put.returncode != 0 or get.stdout.strip() != "v":
                print(f"put: {put.stderr} get: {get.stdout!r} {get.stderr}",
                      file=sys.stderr)
                return 1
            if "from-file" not in members.stdout:
                print(f"member list: {members.stdout}", file=sys.stderr)
                return 1
            print("member from config file serves: put/get ok, name from-file")
            return 0
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    sys.exit(main())
