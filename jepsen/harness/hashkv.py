"""End-of-run integrity check (issue 13): every member's HashKV at one
common revision must be equal, as etcd's functional tester checks
(tests/functional/tester/checker_kv_hash.go).

After the faults are healed and the cluster is healthy, a sentinel put
gives a revision R that the cluster has committed; each member is polled
(`endpoint status`, its own header revision) until it has applied R, with a
deadline; then `endpoint hashkv --rev=R` on each member alone. The hash
covers every key revision up to R (and the compaction revision), so members
that applied the same log agree, whatever they applied after R. A member
that has not reached R by the deadline, or whose HashKV fails, makes the
check fail as well: the run cannot claim the members agree.

The parsing and comparison are plain functions, tested without a cluster
(tests/hashkv_test.py).
"""
import json
import time


def parse_put_revision(stdout):
    """Revision from `etcdctl put -w json`, or None."""
    try:
        return int(json.loads(stdout)["header"]["revision"])
    except (ValueError, KeyError, TypeError):
        return None


def parse_status_revision(stdout):
    """The member's current revision from `endpoint status -w json`."""
    try:
        return int(json.loads(stdout)[0]["Status"]["header"]["revision"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def parse_hashkv(stdout):
    """(hash, compact_revision) from `endpoint hashkv -w json`, or None."""
    try:
        h = json.loads(stdout)[0]["HashKV"]
        return int(h.get("hash", 0)), int(h.get("compact_revision", 0))
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def compare(revision, hashes):
    """hashes: member name -> (hash, compact_revision), or an error string.
    Returns (ok, message); the message names every member and its hash."""
    parts = []
    for m in sorted(hashes):
        h = hashes[m]
        parts.append(f"{m}={h[0]}" if isinstance(h, tuple) else f"{m}: {h}")
    listing = ", ".join(parts)
    errors = [m for m, h in hashes.items() if not isinstance(h, tuple)]
    if errors:
        return False, (f"HashKV at revision {revision}: no hash from "
                       f"{', '.join(sorted(errors))} ({listing})")
    distinct = {h for h in hashes.values()}
    if len(distinct) > 1:
        return False, (f"HashKV at revision {revision} differs: {listing}")
    return True, f"HashKV at revision {revision} equal on {listing}"


def check(cluster, members, patience=30):
    """Runs the check on `members` (indexes) of `cluster` (cluster.py).
    Returns {"ok", "revision", "hashes", "message"}."""
    eps = cluster.endpoints()
    r = cluster.etcdctl([eps[i - 1] for i in members], "put", "rkvj-hashkv",
                        "sentinel", "-w", "json", timeout=5)
    rev = parse_put_revision(r.stdout) if r is not None else None
    if rev is None:
        return {"ok": False, "revision": None, "hashes": {},
                "message": "HashKV: the sentinel put failed"}
    deadline = time.time() + patience
    hashes = {}
    for i in members:
        name = f"m{i}"
        applied = None
        while time.time() < deadline:
            s = cluster.etcdctl([eps[i - 1]], "endpoint", "status", "-w",
                                "json", timeout=2)
            applied = parse_status_revision(s.stdout) if s else None
            if applied is not None and applied >= rev:
                break
            time.sleep(0.2)
        if applied is None or applied < rev:
            hashes[name] = f"revision {applied} below {rev} after {patience} s"
            continue
        h = cluster.etcdctl([eps[i - 1]], "endpoint", "hashkv",
                            f"--rev={rev}", "-w", "json", timeout=10)
        parsed = parse_hashkv(h.stdout) if h else None
        if parsed is None:
            err = "timed out" if h is None else (
                (h.stderr or h.stdout).strip().splitlines() or ["?"])[-1]
            hashes[name] = f"hashkv failed: {err}"
        else:
            hashes[name] = parsed
    ok, message = compare(rev, hashes)
    return {"ok": ok, "revision": rev, "message": message,
            "hashes": {m: (list(h) if isinstance(h, tuple) else h)
                       for m, h in hashes.items()}}
