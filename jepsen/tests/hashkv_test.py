"""The end-of-run HashKV check (harness/hashkv.py) without a cluster: the
parsers on etcdctl's JSON (as etcd 3.4.23 prints it) and the comparison,
which must fail and name the members and hashes on a mismatch.

  python3 jepsen/tests/hashkv_test.py
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
from jepsen.harness import hashkv  # noqa: E402

PUT = ('{"header":{"cluster_id":7801232528081817440,"member_id":1345898963'
       '3860879742,"revision":2,"raft_term":2}}')
STATUS = ('[{"Endpoint":"127.0.0.1:23791","Status":{"header":{"cluster_id":'
          '1,"member_id":2,"revision":3,"raft_term":2},"version":"3.4.23",'
          '"dbSize":20480,"leader":2,"raftIndex":6}}]')
HASHKV = ('[{"Endpoint":"127.0.0.1:23791","HashKV":{"header":{"cluster_id":'
          '1,"member_id":2,"revision":3,"raft_term":2},"hash":2587454935,'
          '"compact_revision":-1}}]')


class HashKvTest(unittest.TestCase):
    def test_parses_etcdctl_json(self):
        self.assertEqual(hashkv.parse_put_revision(PUT), 2)
        self.assertEqual(hashkv.parse_status_revision(STATUS), 3)
        self.assertEqual(hashkv.parse_hashkv(HASHKV), (2587454935, -1))
        # A failed hashkv prints "[]" and an error on stderr.
        self.assertIsNone(hashkv.parse_hashkv("[]"))
        self.assertIsNone(hashkv.parse_put_revision(""))

    def test_equal_hashes_pass(self):
        ok, msg = hashkv.compare(
            7, {"m1": (5, -1), "m2": (5, -1), "m3": (5, -1)})
        self.assertTrue(ok)
        self.assertIn("equal", msg)

    def test_mismatch_fails_and_names_members_and_hashes(self):
        ok, msg = hashkv.compare(
            7, {"m1": (5, -1), "m2": (6, -1), "m3": (5, -1)})
        self.assertFalse(ok)
        self.assertIn("revision 7 differs", msg)
        for part in ("m1=5", "m2=6", "m3=5"):
            self.assertIn(part, msg)

    def test_compaction_revision_counts(self):
        ok, _ = hashkv.compare(7, {"m1": (5, -1), "m2": (5, 4)})
        self.assertFalse(ok)

    def test_member_without_a_hash_fails(self):
        ok, msg = hashkv.compare(
            7, {"m1": (5, -1), "m2": "revision 3 below 7 after 30 s"})
        self.assertFalse(ok)
        self.assertIn("m2", msg)
        self.assertIn("below 7", msg)


if __name__ == "__main__":
    unittest.main()
