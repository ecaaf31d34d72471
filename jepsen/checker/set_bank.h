// Checkers for the set and bank workloads.
//
// Set: "add" ops put unique integers; the run ends with one or more "read"
// ops (after the nemesis has healed) returning the whole set as a list. The
// last ok read is the final state: every ok add must be in it (else "lost"),
// and everything in it must have been attempted (else "unexpected"). Info
// adds may be present or not ("recovered" counts those present).
//
// Bank: "transfer" ops move value [from, to, amount]; "read" ops return every
// account's balance as a list (key "linearizable" or "serializable" names the
// read mode). Every ok read must see all accounts, sum to the initial total
// and have no negative balance — whatever the read mode, since each read is
// one consistent snapshot.
#ifndef RAFTKV_JEPSEN_CHECKER_SET_BANK_H_
#define RAFTKV_JEPSEN_CHECKER_SET_BANK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "jepsen/checker/history.h"
#include "jepsen/checker/linearizable.h"

namespace raftkv::jepsen {

struct SetReport {
  Verdict verdict = Verdict::kValid;
  int64_t attempted = 0, acknowledged = 0, indeterminate = 0;
  int64_t final_size = 0, recovered = 0;
  std::vector<int64_t> lost, unexpected;  // first 20 of each
  int64_t lost_count = 0, unexpected_count = 0;
  std::string Describe() const;
};
SetReport CheckSet(const std::vector<Op>& history);

struct BankReport {
  Verdict verdict = Verdict::kValid;
  int64_t reads = 0, bad_reads = 0, transfers_ok = 0;
  std::vector<Op> examples;  // first 10 bad reads
  std::string Describe() const;
};
BankReport CheckBank(const std::vector<Op>& history, int accounts,
                     int64_t total);

}  // namespace raftkv::jepsen

#endif  // RAFTKV_JEPSEN_CHECKER_SET_BANK_H_
