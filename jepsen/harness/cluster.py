"""A cluster of raftkv or etcd members, each in its own namespace (net.py).

Members are started with etcd's flag names (raftkv accepts the same), data
under <run>/data/m<i>, logs under <run>/logs/m<i>.log. Control commands
(leader lookup, leadership transfer, health) use etcdctl from the hub
namespace, which speaks to both servers.
"""
import json
import os
import signal
import subprocess
import time

from . import lazyfs, net


class Cluster:
    def __init__(self, target, binary, n, run_dir, extra_flags=(),
                 lazyfs=None):
        self.target, self.binary, self.n = target, binary, n
        # Path of rkvj_lazyfs.so: journal writes, lose unsynced ones on kill.
        self.lazyfs = lazyfs
        self.run_dir = run_dir
        self.extra_flags = list(extra_flags)
        self.procs = {}  # member index -> Popen
        self.paused = set()
        # Membership nemesis: a member removed and added back gets a fresh
        # peer URL (same address, next port) and joins with
        # --initial-cluster-state existing and the cluster `member add`
        # printed. Invariant: keys are member indexes that were re-added.
        self.peer_port = {i: 2380 for i in range(1, n + 1)}
        self.joined_cluster = {}

    def endpoints(self):
        return [f"{net.member_ip(i)}:2379" for i in range(1, self.n + 1)]

    def peer_url(self, i):
        return f"http://{net.member_ip(i)}:{self.peer_port[i]}"

    def _args(self, i):
        ip = net.member_ip(i)
        cluster = ",".join(f"m{j}={self.peer_url(j)}"
                           for j in range(1, self.n + 1))
        state = "new"
        if i in self.joined_cluster:
            cluster, state = self.joined_cluster[i], "existing"
        return [self.binary, "--name", f"m{i}",
                "--data-dir", self.data_dir(i),
                "--listen-client-urls", f"http://{ip}:2379",
                "--advertise-client-urls", f"http://{ip}:2379",
                "--listen-peer-urls", self.peer_url(i),
                "--initial-advertise-peer-urls", self.peer_url(i),
                "--listen-metrics-urls", f"http://{ip}:2381",
                "--initial-cluster", cluster,
                "--initial-cluster-state", state,
                "--initial-cluster-token", "rkvj"] + self.extra_flags

    def data_dir(self, i):
        return os.path.join(self.run_dir, "data", f"m{i}")

    def start(self, i):
        os.makedirs(os.path.join(self.run_dir, "logs"), exist_ok=True)
        log = open(os.path.join(self.run_dir, "logs", f"m{i}.log"), "a")
        log.write(f"==== start {time.strftime('%H:%M:%S')}\n")
        log.flush()
        env = dict(os.environ)
        if self.lazyfs:
            data = os.path.realpath(os.path.join(self.run_dir, "data"))
            os.makedirs(os.path.join(data, f"m{i}"), exist_ok=True)
            env.update(LD_PRELOAD=self.lazyfs,
                       RKVJ_LAZYFS_DIR=os.path.join(data, f"m{i}") + "/",
                       RKVJ_LAZYFS_JOURNAL=self._journal(i))
        # ip netns exec execs the server: the Popen pid is the server's.
        self.procs[i] = subprocess.Popen(
            ["ip", "netns", "exec", net.member_ns(i)] + self._args(i),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env=env)
        self.paused.discard(i)

    def start_all(self):
        for i in range(1, self.n + 1):
            self.start(i)

    def alive(self, i):
        p = self.procs.get(i)
        return p is not None and p.poll() is None

    def _journal(self, i):
        return os.path.join(self.run_dir, "data", f"m{i}.lazyfs")

    def kill(self, i):
        p = self.procs.get(i)
        if p is not None and p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
        self.paused.discard(i)
        if self.lazyfs:
            lost = lazyfs.revert(self._journal(i))
            with open(os.path.join(self.run_dir, "logs", f"m{i}.log"),
                      "a") as log:
                log.write(f"==== killed; lazyfs dropped {lost} unsynced "
                          "bytes\n")

    def pause(self, i):
        if self.alive(i):
            os.kill(self.procs[i].pid, signal.SIGSTOP)
            self.paused.add(i)

    def resume(self, i):
        if self.alive(i):
            os.kill(self.procs[i].pid, signal.SIGCONT)
        self.paused.discard(i)

    def stop_all(self):
        for i in list(self.procs):
            self.resume(i)
            self.kill(i)

    def etcdctl(self, endpoints, *args, timeout=3):
        env = dict(os.environ, ETCDCTL_API="3")
        try:
            return subprocess.run(
                ["ip", "netns", "exec", net.HUB, "etcdctl",
                 "--endpoints", ",".join(endpoints),
                 "--command-timeout", f"{timeout}s", "--dial-timeout", "1s"]
                + list(args), capture_output=True, text=True, env=env,
                timeout=timeout + 5)
        except subprocess.TimeoutExpired:
            return None

    def statuses(self):
        """member index -> (member_id, leader_id) for reachable members."""
        out = {}
        for i in range(1, self.n + 1):
            if not self.alive(i) or i in self.paused:
                continue
            r = self.etcdctl([self.endpoints()[i - 1]], "endpoint", "status",
                             "-w", "json", timeout=2)
            if r is None or r.returncode != 0:
                continue
            try:
                st = json.loads(r.stdout)[0]["Status"]
                out[i] = (st["header"]["member_id"], st["leader"])
            except (ValueError, KeyError, IndexError):
                continue
        return out

    def leader(self):
        """The index of the member a majority of responders call leader."""
        st = self.statuses()
        ids = {mid: i for i, (mid, _) in st.items()}
        votes = {}
        for _, lead in st.values():
            votes[lead] = votes.get(lead, 0) + 1
        for lead, v in sorted(votes.items(), key=lambda kv: -kv[1]):
            if lead in ids and lead != 0:
                return ids[lead], st
        return None, st

    def wait_healthy(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.etcdctl(self.endpoints(), "put", "rkvj-health", "ok")
            if r is not None and r.returncode == 0:
                return True
            time.sleep(0.5)
        return False

    def member_list(self, via):
        """The members (etcd's JSON objects) from `member list` on members
        `via`, or None."""
        r = self.etcdctl([self.endpoints()[j - 1] for j in via], "member",
                         "list", "-w", "json")
        if r is None or r.returncode != 0:
            return None
        try:
            return json.loads(r.stdout)["members"]
        except (ValueError, KeyError):
            return None

    def member_ids(self, via):
        """peer URL -> member id (int) from `member list` on members `via`."""
        members = self.member_list(via)
        if members is None:
            return None
        return {u: m["ID"] for m in members for u in m.get("peerURLs", [])}

    def remove_member(self, i, via):
        """`member remove` of member i through members `via`: "ok" or why
        not."""
        ids = self.member_ids(via)
        if not ids or self.peer_url(i) not in ids:
            return f"member list failed or m{i} not listed: {ids}"
        for _ in range(8):
            r = self.etcdctl([self.endpoints()[j - 1] for j in via],
                             "member", "remove",
                             format(ids[self.peer_url(i)], "x"), timeout=5)
            # etcd's strict reconfiguration check refuses while a peer has
            # been connected for less than 5 s ("unhealthy cluster").
            if r is None or "unhealthy cluster" not in r.stderr:
                break
            time.sleep(1)
        if r is not None and r.returncode == 0:
            return "ok"
        # A removed leader steps down as it applies its removal, so the reply
        # may be lost although the removal committed: look again.
        for _ in range(10):
            time.sleep(0.5)
            after = self.member_ids(via)
            if after is not None:
                if self.peer_url(i) not in after:
                    return "ok"
                break
        if r is None:
            return "member remove timed out"
        return (r.stderr or r.stdout).strip().splitlines()[-1]

    def add_member(self, i, via, patience=10):
        """`member add` of member i at a fresh peer URL (same address, next
        port), retried for `patience` s (a removed leader leaves the cluster
        leaderless for an election). Returns "ok" or the last error; on "ok"
        the member's next start joins the existing cluster."""
        port = self.peer_port[i] + 10
        url = f"http://{net.member_ip(i)}:{port}"
        deadline, last = time.time() + patience, ""
        while time.time() < deadline:
            r = self.etcdctl([self.endpoints()[j - 1] for j in via], "member",
                             "add", f"m{i}", f"--peer-urls={url}", timeout=5)
            if r is not None and r.returncode == 0:
                for line in r.stdout.splitlines():
                    if line.startswith("ETCD_INITIAL_CLUSTER="):
                        self.joined_cluster[i] = line.split("=", 1)[1].strip(
                            '"')
                self.peer_port[i] = port
                if i not in self.joined_cluster:
                    return f"member add printed no cluster: {r.stdout[:200]}"
                return "ok"
            # The reply may be lost although the addition committed (a
            # retry then says "Peer URLs already exists"): look.
            members = self.member_list(via)
            if members and any(url in m.get("peerURLs", []) for m in members):
                # Named by address: a member not started yet has no name.
                names = {net.member_ip(j): f"m{j}"
                         for j in range(1, self.n + 1)}

                def name(m, u):
                    host = u.split("//")[-1].rsplit(":", 1)[0]
                    return names.get(host, m.get("name"))
                self.joined_cluster[i] = ",".join(
                    f"{name(m, u)}={u}"
                    for m in members for u in m.get("peerURLs", []))
                self.peer_port[i] = port
                return "ok"
            last = "timed out" if r is None else (
                (r.stderr or r.stdout).strip().splitlines() or [""])[-1]
            time.sleep(0.5)
        return last

    def wipe(self, i):
        """Deletes member i's data (and lazyfs journal). REQUIRES: stopped."""
        import shutil
        shutil.rmtree(self.data_dir(i), ignore_errors=True)
        if os.path.exists(self._journal(i)):
            os.remove(self._journal(i))

    def move_leader(self, to):
        lead, st = self.leader()
        if lead is None or to not in st or lead == to:
            return "no leader"
        r = self.etcdctl([self.endpoints()[lead - 1]], "move-leader",
                         format(st[to][0], "x"), timeout=5)
        if r is None:
            return "timed out"
        return "ok" if r.returncode == 0 else (r.stderr or r.stdout).strip()
