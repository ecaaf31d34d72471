"""Nemeses: faults injected on a schedule, each healed before the next.

  partition  isolate the leader | majority/minority halves | bridge (one
             member sees both sides) | one-way loss (the leader hears no one)
  kill       kill -9 a random member | the leader | a majority; restarted
             at heal
  kill-all   kill -9 every member at once, restart all (for the fsync test)
  pause      SIGSTOP a random member or the leader; SIGCONT at heal
  transfer   leadership transfer (MoveLeader) to a random follower
  member     `member remove` a random follower or the leader (alternately),
             stop it, wipe its data, `member add` it back with a fresh peer
             URL on the same address, restart it with
             --initial-cluster-state existing; a failed add is retried at heal

The schedule alternates `quiet` seconds of calm and `fault` seconds of
fault. Every fault is recorded as {"kind","detail","start","end"} with times
in ns since the run's t0, so the report can shade its window.
"""
import json
import random
import threading
import time

from . import net

KINDS = ("partition", "kill", "kill-all", "pause", "transfer", "member")


class Nemesis:
    def __init__(self, cluster, kinds, t0_ns, log_path, seed=1, quiet=3.0,
                 fault=5.0):
        self.cluster, self.kinds, self.t0 = cluster, kinds, t0_ns
        self.rng = random.Random(seed)
        self.quiet, self.fault = quiet, fault
        self.log = open(log_path, "a")
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.killed, self.partitioned = set(), False
        self.removed = set()  # removed members not yet added back
        self.round = 0

    def now(self):
        return time.monotonic_ns() - self.t0

    def start(self):
        if self.kinds:
            self.thread.start()

    def stop(self):
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join()
        self.heal()

    def _run(self):
        while not self.stop_event.wait(self.quiet):
            kind = self.kinds[self.round % len(self.kinds)]
            self.round += 1
            start = self.now()
            try:
                detail = getattr(self, "_" + kind.replace("-", "_"))()
            except Exception as e:  # a failed injection is logged, not fatal
                detail = f"injection failed: {e}"
            if kind != "transfer":
                self.stop_event.wait(self.fault)
            self.heal()
            self._record(kind, detail, start, self.now())

    def _record(self, kind, detail, start, end):
        self.log.write(json.dumps({"kind": kind, "detail": detail,
                                   "start": start, "end": end}) + "\n")
        self.log.flush()

    def heal(self):
        c = self.cluster
        if self.partitioned:
            net.heal(c.n)
            self.partitioned = False
        for i in list(c.paused):
            c.resume(i)
        for i in sorted(self.killed):
            c.start(i)
        self.killed.clear()
        for i in sorted(self.removed):
            via = [m for m in self._members() if m != i and c.alive(m)]
            if c.add_member(i, via, patience=20) == "ok":
                c.start(i)
                self.removed.discard(i)

    def _members(self):
        return list(range(1, self.cluster.n + 1))

    def _leader_or_random(self):
        lead, _ = self.cluster.leader()
        return lead if lead is not None else self.rng.choice(self._members())

    def _partition(self):
        n, members = self.cluster.n, self._members()
        mode = ("isolate-leader", "halves", "bridge", "one-way")[
            (self.round // max(1, len(self.kinds))) % 4]
        if mode == "isolate-leader":
            lead = self._leader_or_random()
            net.partition(n, [[lead], [m for m in members if m != lead]])
            detail = f"isolate leader m{lead}"
        elif mode == "halves":
            self.rng.shuffle(members)
            minority = sorted(members[:n // 2])
            majority = sorted(members[n // 2:])
            net.partition(n, [minority, majority])
            detail = f"halves {minority} | {majority}"
        elif mode == "bridge":
            self.rng.shuffle(members)
            mid = members[0]
            rest = members[1:]
            left, right = rest[:len(rest) // 2], rest[len(rest) // 2:]
            for a in left:
                for b in right:
                    net.drop_from(a, b)
                    net.drop_from(b, a)
            detail = f"bridge m{mid} between {sorted(left)} and {sorted(right)}"
        else:
            lead = self._leader_or_random()
            for m in members:
                if m != lead:
                    net.drop_from(lead, m)
            detail = f"one-way: leader m{lead} hears no one"
        self.partitioned = True
        return detail

    def _kill(self):
        mode = ("random", "leader", "majority")[
            (self.round // max(1, len(self.kinds))) % 3]
        members = self._members()
        if mode == "random":
            victims = [self.rng.choice(members)]
        elif mode == "leader":
            victims = [self._leader_or_random()]
        else:
            victims = self.rng.sample(members, self.cluster.n // 2 + 1)
        for v in victims:
            self._kill_member(v)
        return f"kill -9 ({mode}) {['m%d' % v for v in sorted(victims)]}"

    def _kill_all(self):
        for v in self._members():
            self._kill_member(v)
        return "kill -9 all members"

    def _kill_member(self, v):
        self.cluster.kill(v)
        # A removed member (its add failed) is started again only once it is
        # added back (heal); started now it would exit at once.
        if v not in self.removed:
            self.killed.add(v)

    def _pause(self):
        if self.round % 2:
            v, mode = self._leader_or_random(), "leader"
        else:
            v, mode = self.rng.choice(self._members()), "random"
        self.cluster.pause(v)
        return f"SIGSTOP ({mode}) m{v}"

    def _member(self):
        c = self.cluster
        lead, st = c.leader()
        mode = ("follower", "leader")[
            (self.round // max(1, len(self.kinds))) % 2]
        followers = [m for m in st if m != lead]
        if mode == "leader" and lead is not None:
            victim = lead
        elif followers:
            victim = self.rng.choice(followers)
        else:
            return "member: no reachable member"
        via = [m for m in self._members() if m != victim and c.alive(m)]
        removed = c.remove_member(victim, via)
        if removed != "ok":
            return f"member remove m{victim} ({mode}): {removed[:100]}"
        c.kill(victim)
        c.wipe(victim)
        self.removed.add(victim)
        added = c.add_member(victim, via)
        if added == "ok":
            c.start(victim)
            self.removed.discard(victim)
        return (f"member remove m{victim} ({mode}), wipe, add at "
                f"{c.peer_url(victim)}: {added[:100]}")

    def _transfer(self):
        lead, st = self.cluster.leader()
        others = [m for m in st if m != lead]
        if lead is None or not others:
            return "transfer: no leader"
        to = self.rng.choice(others)
        result = self.cluster.move_leader(to)
        return f"move leader m{lead} -> m{to}: {result[:100]}"
