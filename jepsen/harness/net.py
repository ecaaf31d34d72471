"""Private network for a test cluster: one network namespace per member.

Layout (all names prefixed rkvj, all addresses inside our own namespaces;
nothing is attached to the host's interfaces):
  rkvjhub        bridge rkvjbr0 = 10.77.0.1/24; the clients and the runner's
                 control commands run here.
  rkvjn<i>       member i: veth rkvjp<i> = 10.77.0.<10+i>/24, whose peer
                 rkvjv<i> is enslaved to the hub's bridge.
Faults are iptables DROP rules in a member's INPUT chain, by source address,
so a partition cuts member-to-member traffic at packet level while clients
(10.77.0.1) keep reaching every member.
"""
import subprocess

PREFIX = "rkvj"
HUB = "rkvjhub"
HUB_IP = "10.77.0.1"


def sh(*args, check=True):
    return subprocess.run(list(args), check=check, capture_output=True,
                          text=True)


def member_ns(i):
    return f"rkvjn{i}"


def member_ip(i):
    return f"10.77.0.{10 + i}"


def in_ns(ns, *args, check=True):
    return sh("ip", "netns", "exec", ns, *args, check=check)


def available():
    """True if network namespaces work here (root, kernel support)."""
    r = sh("ip", "netns", "add", "rkvjprobe", check=False)
    if r.returncode != 0:
        return False
    sh("ip", "netns", "del", "rkvjprobe", check=False)
    return True


def setup(n):
    cleanup()
    sh("ip", "netns", "add", HUB)
    in_ns(HUB, "ip", "link", "set", "lo", "up")
    in_ns(HUB, "ip", "link", "add", "rkvjbr0", "type", "bridge")
    in_ns(HUB, "ip", "addr", "add", f"{HUB_IP}/24", "dev", "rkvjbr0")
    in_ns(HUB, "ip", "link", "set", "rkvjbr0", "up")
    for i in range(1, n + 1):
        ns = member_ns(i)
        sh("ip", "netns", "add", ns)
        in_ns(ns, "ip", "link", "set", "lo", "up")
        # Create the pair inside the hub so no link ever sits on the host.
        in_ns(HUB, "ip", "link", "add", f"rkvjv{i}", "type", "veth", "peer",
              "name", f"rkvjp{i}")
        in_ns(HUB, "ip", "link", "set", f"rkvjp{i}", "netns", ns)
        in_ns(HUB, "ip", "link", "set", f"rkvjv{i}", "master", "rkvjbr0")
        in_ns(HUB, "ip", "link", "set", f"rkvjv{i}", "up")
        in_ns(ns, "ip", "addr", "add", f"{member_ip(i)}/24", "dev",
              f"rkvjp{i}")
        in_ns(ns, "ip", "link", "set", f"rkvjp{i}", "up")


def namespaces():
    out = sh("ip", "netns", "list", check=False).stdout
    return [l.split()[0] for l in out.splitlines()
            if l.split() and l.split()[0].startswith(PREFIX)]


def ns_pids(ns):
    out = sh("ip", "netns", "pids", ns, check=False).stdout
    return [int(p) for p in out.split()]


def cleanup():
    """Kills every process inside our namespaces, then deletes them."""
    import os
    import signal
    for ns in namespaces():
        for pid in ns_pids(ns):
            try:
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for ns in namespaces():
        sh("ip", "netns", "del", ns, check=False)


def drop_from(i, j):
    """Member i stops receiving packets from member j (one way)."""
    in_ns(member_ns(i), "iptables", "-A", "INPUT", "-s", member_ip(j), "-j",
          "DROP")


def heal(n):
    for i in range(1, n + 1):
        in_ns(member_ns(i), "iptables", "-F", "INPUT", check=False)


def partition(n, groups):
    """Cuts every pair of members in different groups (both ways)."""
    side = {m: g for g, members in enumerate(groups) for m in members}
    for i in range(1, n + 1):
        for j in range(1, n + 1):
            if i != j and side.get(i) != side.get(j):
                drop_from(i, j)
