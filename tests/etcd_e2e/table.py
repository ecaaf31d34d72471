#!/usr/bin/env python3
"""Prints the markdown tables of docs/etcd-e2e.md from expected.tsv:
per tier, how many of etcd's e2e tests raftkv passes, fails or leaves out,
and each failing test with the reason (the issue it waits for)."""
import collections
import os

here = os.path.dirname(os.path.abspath(__file__))
rows = []
with open(os.path.join(here, "expected.tsv")) as f:
    for line in f:
        if line.startswith("#") or not line.strip():
            continue
        cols = (line.rstrip("\n").split("\t") + [""] * 5)[:5]
        rows.append(cols)

tiers = collections.OrderedDict()
for test, tier, expect, _, why in rows:
    tiers.setdefault(tier, collections.Counter())[expect] += 1

print("| tier | tests | pass | fail | not run yet | out of scope |")
print("|---|---:|---:|---:|---:|---:|")
total = collections.Counter()
for tier, c in tiers.items():
    n = sum(c.values())
    total.update(c)
    print(f"| {tier} | {n} | {c['pass']} | {c['fail']} | {c['?']} | {c['n/a']} |")
n = sum(total.values())
print(f"| **all** | {n} | {total['pass']} | {total['fail']} | {total['?']} | {total['n/a']} |")
print()
print("| failing test | tier | why |")
print("|---|---|---|")
for test, tier, expect, _, why in rows:
    if expect == "fail":
        print(f"| `{test}` | {tier} | {why} |")
